// The TorchScript allowlist tables (libtorch 1.13 operator names) and the
// refusals that carry a reason. See torchscript_allowlist.h.
//
// Deliberately absent: anything that allocates uninitialized memory (empty*,
// resize*: a model could return whatever the allocator last held), rebinds or
// exposes storage (set_, storage, as_strided), files (from_file, save), RPC and
// distributed references, futures and forks, process-wide state (manual_seed,
// set_grad_enabled), printing, memory addresses (id, hash), autograd, CUDA,
// sparse kernels and quantized ones other than dynamic quantization's. Random sampling (rand*, bernoulli, multinomial,
// normal, dropout in training) is allowed: it draws from libtorch's generator
// and touches nothing else. `warn` is allowed: torch.nn.functional calls it;
// it writes one line to the engine's log.
#include "torchscript_allowlist.h"

#include <iterator>
#include <unordered_map>
#include <unordered_set>

namespace aegis::scan::internal::torchscript {
namespace {

constexpr std::string_view kAten[] = {
    // Arithmetic and elementwise math.
    "abs", "abs_", "absolute", "acos", "acos_", "acosh", "acosh_", "add", "add_", "addbmm", "addcdiv", "addcdiv_",
    "addcmul", "addcmul_", "addmm", "addmm_", "addmv", "addr", "angle", "arccos", "arccosh", "arcsin", "arcsinh",
    "arctan", "arctan2", "arctanh", "asin", "asin_", "asinh", "asinh_", "atan", "atan2", "atan2_", "atan_", "atanh",
    "atanh_", "baddbmm", "baddbmm_", "bitwise_and", "bitwise_and_", "bitwise_left_shift", "bitwise_not", "bitwise_not_",
    "bitwise_or", "bitwise_or_", "bitwise_right_shift", "bitwise_xor", "bitwise_xor_", "ceil", "ceil_", "clamp",
    "clamp_", "clamp_max", "clamp_max_", "clamp_min", "clamp_min_", "clip", "clip_", "conj", "conj_physical",
    "copysign", "cos", "cos_", "cosh", "cosh_", "deg2rad", "degrees", "digamma", "div", "div_", "divide", "divide_",
    "erf", "erf_", "erfc", "erfc_", "erfinv", "exp", "exp2", "exp_", "expm1", "expm1_", "fabs", "factorial", "fix",
    "float_power", "floor", "floor_", "floor_divide", "floordiv", "fmax", "fmin", "fmod", "fmod_", "frac", "frexp",
    "gamma", "gcd", "heaviside", "hypot", "i0", "igamma", "igammac", "lcm", "ldexp", "lerp", "lerp_", "lgamma", "log",
    "log10", "log10_", "log1p", "log1p_", "log2", "log2_", "log_", "logaddexp", "logaddexp2", "logit", "mathremainder",
    "mul", "mul_", "multiply", "multiply_", "mvlgamma", "nan_to_num", "nan_to_num_", "neg", "neg_", "negative",
    "nextafter", "polygamma", "positive", "pow", "pow_", "rad2deg", "radians", "reciprocal", "reciprocal_", "remainder",
    "remainder_", "round", "round_", "rsqrt", "rsqrt_", "rsub", "sgn", "sign", "sign_", "signbit", "sin", "sin_",
    "sinc", "sinh", "sinh_", "sqrt", "sqrt_", "square", "square_", "sub", "sub_", "subtract", "subtract_", "tan",
    "tan_", "true_divide", "trunc", "trunc_", "xlogy",
    // Comparisons and logic.
    "__and__", "__iand__", "__ilshift__", "__ior__", "__irshift__", "__is__", "__isnot__", "__ixor__", "__lshift__",
    "__not__", "__or__", "__rshift__", "__xor__", "allclose", "eq", "eq_", "equal", "ge", "ge_", "greater",
    "greater_equal", "gt", "gt_", "isclose", "isfinite", "isin", "isinf", "isnan", "isneginf", "isposinf", "isreal",
    "le", "le_", "less", "less_equal", "logical_and", "logical_and_", "logical_not", "logical_not_", "logical_or",
    "logical_or_", "logical_xor", "lt", "lt_", "maximum", "minimum", "ne", "ne_", "not_equal", "where",
    // Reductions, sorting, statistics.
    "all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "argsort", "bincount", "bucketize", "count_nonzero",
    "cov", "corrcoef", "cummax", "cummin", "cumprod", "cumprod_", "cumsum", "cumsum_", "diff", "dist", "histc",
    "kthvalue", "logcumsumexp", "logsumexp", "max", "mean", "median", "min", "mode", "msort", "nanmean", "nanmedian",
    "nanquantile", "nansum", "norm", "frobenius_norm", "nuclear_norm", "prod", "quantile", "searchsorted", "sort",
    "std", "std_mean", "sum", "topk", "trace", "unique_consecutive", "unique_dim", "_unique", "_unique2", "var",
    "var_mean",
    // Shapes, views, copies, indexing.
    "adjoint", "atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_tensors", "broadcast_to",
    "cartesian_prod", "cat", "chunk", "clone", "column_stack", "combinations", "concat", "concatenate", "contiguous",
    "copy_", "detach", "diag", "diag_embed", "diagflat", "diagonal", "diagonal_scatter", "dsplit", "dstack", "expand",
    "expand_as", "fill", "fill_", "fill_diagonal_", "flatten", "flip", "fliplr", "flipud", "gather", "hsplit", "hstack",
    "index", "index_add", "index_add_", "index_copy", "index_copy_", "index_fill", "index_fill_", "index_put",
    "index_put_", "index_reduce", "index_select", "masked_fill", "masked_fill_", "masked_scatter", "masked_select",
    "meshgrid", "moveaxis", "movedim", "mH", "mT", "narrow", "nonzero", "argwhere", "numpy_T", "matrix_H", "permute",
    "put", "ravel", "repeat", "repeat_interleave", "reshape", "reshape_as", "resolve_conj", "resolve_neg", "roll",
    "rot90", "scatter", "scatter_", "scatter_add", "scatter_add_", "scatter_reduce", "select", "select_scatter",
    "slice", "slice_scatter", "split", "split_with_sizes", "squeeze", "squeeze_", "stack", "swapaxes", "swapdims", "t",
    "t_", "take", "take_along_dim", "tensor_split", "tile", "transpose", "transpose_", "tril", "tril_", "triu", "triu_",
    "unbind", "unflatten", "unfold", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "unsqueeze",
    "unsqueeze_", "view", "view_as", "view_as_complex", "view_as_real", "vsplit", "vstack", "zero_", "_set_item",
    "__getitem__", "_shape_as_tensor", "_reshape_from_tensor", "_size_if_not_equal", "_unwrap_optional",
    // Tensor creation with defined contents, casts, properties.
    "arange", "as_tensor", "bartlett_window", "blackman_window", "complex", "eye", "full", "full_like",
    "hamming_window", "hann_window", "kaiser_window", "linspace", "logspace", "new_full", "new_ones", "new_zeros",
    "ones", "ones_like", "polar", "scalar_tensor", "tensor", "tril_indices", "triu_indices", "vander", "zeros",
    "zeros_like", "cpu", "data", "device", "to", "type_as", "chalf", "dim", "element_size", "get_device", "is_complex",
    "is_contiguous", "is_floating_point", "is_leaf", "is_neg", "is_nonzero", "is_same_size", "is_signed", "item",
    "numel", "result_type", "can_cast", "promote_types", "size", "stride", "sym_size", "sym_numel", "sym_stride",
    "real", "imag", "Bool", "Complex", "ComplexImplicit", "Float", "FloatImplicit", "Int", "IntImplicit",
    "ScalarImplicit", "Size", "is_scripting", "has_torch_function", "is_grad_enabled", "is_autocast_enabled",
    "is_autocast_cpu_enabled", "__derive_index", "__range_length",
    // Random sampling (libtorch's generator, nothing else).
    "bernoulli", "multinomial", "normal", "rand", "rand_like", "randint", "randint_like", "randn", "randn_like",
    "randperm",
    // Linear algebra and transforms.
    "bmm", "chain_matmul", "cholesky", "cholesky_inverse", "cholesky_solve", "cross", "det", "dot", "einsum", "ger",
    "inner", "inverse", "kron", "linalg_cholesky", "linalg_cond", "linalg_cross", "linalg_det", "linalg_eig",
    "linalg_eigh", "linalg_eigvals", "linalg_eigvalsh", "linalg_inv", "linalg_lstsq", "linalg_lu", "linalg_lu_factor",
    "linalg_lu_solve", "linalg_matmul", "linalg_matrix_exp", "linalg_matrix_norm", "linalg_matrix_power",
    "linalg_matrix_rank", "linalg_multi_dot", "linalg_norm", "linalg_pinv", "linalg_qr", "linalg_slogdet",
    "linalg_solve", "linalg_solve_triangular", "linalg_svd", "linalg_svdvals", "linalg_vecdot", "linalg_vector_norm",
    "logdet", "lu_solve", "lu_unpack", "matmul", "matrix_exp", "matrix_power", "mm", "mv", "outer", "pinverse", "qr",
    "slogdet", "svd", "tensordot", "triangular_solve", "vdot", "fft_fft", "fft_fft2", "fft_fftfreq", "fft_fftn",
    "fft_fftshift", "fft_ifft", "fft_ifft2", "fft_ifftn", "fft_ifftshift", "fft_irfft", "fft_irfft2", "fft_irfftn",
    "fft_rfft", "fft_rfft2", "fft_rfftfreq", "fft_rfftn", "stft", "istft",
    // Neural-network layers: linear, convolution, pooling, padding, resampling.
    "linear", "bilinear", "_convolution", "conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d", "convolution", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices",
    "max_pool3d", "max_pool3d_with_indices", "max_unpool2d", "max_unpool3d", "fractional_max_pool2d",
    "fractional_max_pool3d", "pad", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "im2col", "col2im", "affine_grid_generator", "grid_sampler",
    "grid_sampler_2d", "grid_sampler_3d", "upsample_bicubic2d", "upsample_bilinear2d", "upsample_linear1d",
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_trilinear3d", "_upsample_bicubic2d_aa",
    "_upsample_bilinear2d_aa", "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "__interpolate",
    // Normalization, activations, attention, embeddings, recurrent cells, dropout.
    "batch_norm", "native_batch_norm", "group_norm", "native_group_norm", "instance_norm", "layer_norm",
    "native_layer_norm", "renorm", "norm_except_dim", "_weight_norm", "celu", "celu_", "elu", "elu_", "gelu", "gelu_",
    "glu", "hardshrink", "hardsigmoid", "hardsigmoid_", "hardswish", "hardswish_", "hardtanh", "hardtanh_",
    "leaky_relu", "leaky_relu_", "log_sigmoid", "log_softmax", "_log_softmax", "mish", "mish_", "prelu", "relu",
    "relu6", "relu6_", "relu_", "rrelu", "selu", "selu_", "sigmoid", "sigmoid_", "silu", "silu_", "softmax", "_softmax",
    "_masked_softmax", "softplus", "softshrink", "tanh", "tanh_", "threshold", "threshold_",
    "_native_multi_head_attention", "_transformer_encoder_layer_fwd", "_scaled_dot_product_attention", "embedding",
    "embedding_bag", "embedding_renorm_", "one_hot", "gru", "gru_cell", "lstm", "lstm_cell", "rnn_relu",
    "rnn_relu_cell", "rnn_tanh", "rnn_tanh_cell", "_pack_padded_sequence", "_pad_packed_sequence", "pad_sequence",
    "cosine_similarity", "pairwise_distance", "pdist", "cdist", "dropout", "dropout_", "feature_dropout",
    "feature_dropout_", "alpha_dropout", "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_",
    "native_dropout",
    // Losses.
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy_loss",
    "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss",
    "multilabel_margin_loss", "nll_loss", "nll_loss2d", "nll_loss_nd", "smooth_l1_loss", "soft_margin_loss",
    "triplet_margin_loss",
    // Lists, dicts and scalars (TorchScript compiles Python builtins to these).
    "Delete", "__contains__", "append", "clear", "copy", "count", "dict", "extend", "get", "insert", "items", "keys",
    "len", "list", "pop", "popitem", "remove", "reverse", "setdefault", "sorted", "update", "values", "divmod", "bin",
    "chr", "hex", "oct", "ord", "str", "warn",
    // Strings.
    "capitalize", "center", "endswith", "expandtabs", "find", "format", "isalnum", "isalpha", "isdecimal", "isdigit",
    "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
    "lstrip", "partition", "percentFormat", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill"};

// Dynamic quantization (torch.ao.quantization.quantize_dynamic of Linear, LSTM,
// GRU): libtorch's own packed-weight kernels, tensors in and out.
constexpr std::string_view kQuantized[] = {"linear_dynamic",      "linear_dynamic_fp16", "linear_prepack",
                                           "linear_prepack_fp16", "linear_unpack",       "linear_unpack_fp16"};
constexpr std::string_view kQuantizedAten[] = {"quantized_lstm",          "quantized_gru",
                                               "quantized_lstm_cell",     "quantized_gru_cell",
                                               "quantized_rnn_relu_cell", "quantized_rnn_tanh_cell"};

// libtorch's own custom classes that hold those packed weights. Any other custom
// class is native code from somewhere else.
constexpr std::string_view kCustomClasses[] = {"__torch__.torch.classes.quantized.LinearPackedParamsBase",
                                               "__torch__.torch.classes.rnn.CellParamsBase"};

// prim ops that serialized code calls as `ops.prim.X`.
constexpr std::string_view kPrim[] = {"NumToTensor",
                                      "RaiseException",
                                      "device",
                                      "dtype",
                                      "layout",
                                      "data",
                                      "requires_grad",
                                      "is_cuda",
                                      "is_cpu",
                                      "is_xpu",
                                      "is_sparse",
                                      "is_sparse_csr",
                                      "is_mkldnn",
                                      "is_mps",
                                      "is_quantized",
                                      "is_meta",
                                      "is_vulkan",
                                      "is_ipu",
                                      "is_nested",
                                      "is_ort",
                                      "name",
                                      "min",
                                      "max",
                                      "abs",
                                      "tolist",
                                      "type",
                                      "unchecked_unwrap_optional",
                                      "TupleIndex",
                                      "StringIndex",
                                      "EnumName",
                                      "EnumValue",
                                      "rangelist",
                                      "index",
                                      "Uninitialized"};

// Attribute and method names resolved on values without an aten op of that
// name (torch/csrc/jit/frontend/sugared_value.cpp: builtin properties, casts).
constexpr std::string_view kValueProperties[] = {"dtype",     "device",
                                                 "data",      "shape",
                                                 "is_cuda",   "is_cpu",
                                                 "is_sparse", "is_quantized",
                                                 "is_meta",   "is_nested",
                                                 "is_leaf",   "requires_grad",
                                                 "layout",    "T",
                                                 "H",         "mT",
                                                 "mH",        "ndim",
                                                 "name",      "real",
                                                 "imag",      "type",
                                                 "index",     "value",
                                                 "tolist",    "byte",
                                                 "char",      "double",
                                                 "float",     "half",
                                                 "int",       "long",
                                                 "short",     "bool",
                                                 "bfloat16",  "cfloat",
                                                 "cdouble",   "unchecked_unwrap_optional"};

// Bare names TorchScript resolves itself (ir_emitter.cpp globals and the
// archive importer's environment), allowed.
constexpr std::string_view kBuiltins[] = {"tuple",
                                          "float",
                                          "complex",
                                          "int",
                                          "bool",
                                          "str",
                                          "getattr",
                                          "hasattr",
                                          "isinstance",
                                          "_to_tensor",
                                          "len",
                                          "hex",
                                          "oct",
                                          "round",
                                          "min",
                                          "max",
                                          "abs",
                                          "all",
                                          "any",
                                          "divmod",
                                          "sum",
                                          "list",
                                          "dict",
                                          "ord",
                                          "chr",
                                          "bin",
                                          "pow",
                                          "range",
                                          "zip",
                                          "enumerate",
                                          "rangelist",
                                          "sorted",
                                          "AssertionError",
                                          "annotate",
                                          "unchecked_cast",
                                          "uninitialized",
                                          "CONSTANTS",
                                          "inf",
                                          "nan"};

constexpr std::string_view kPythonEscapes[] = {
    "__import__", "__builtins__",  "__globals__", "__class__", "__subclasses__",
    "__dict__",   "__code__",      "__closure__", "__func__",  "__self__",
    "__module__", "__mro__",       "__bases__",   "__base__",  "__getattribute__",
    "__reduce__", "__reduce_ex__", "__loader__",  "__spec__",  "eval",
    "exec",       "compile",       "open",        "globals",   "locals",
    "vars",       "breakpoint",    "os",          "sys",       "subprocess",
    "builtins",   "importlib",     "socket",      "ctypes",    "pickle",
    "marshal",    "exit",          "quit"};

constexpr std::string_view kReadsFiles = "reads or writes a file by path";
constexpr std::string_view kUninitialized = "returns uninitialized memory (it can expose other data of the process)";
constexpr std::string_view kStorage = "rebinds or exposes raw tensor storage";
constexpr std::string_view kRemote = "uses distributed RPC or collectives (network)";
constexpr std::string_view kThreads = "starts or waits on asynchronous tasks (threads)";

const std::unordered_map<std::string_view, std::string_view>& CriticalAten() {
  static const std::unordered_map<std::string_view, std::string_view> table = {
      {"from_file", kReadsFiles},
      {"save", kReadsFiles},
      {"load", kReadsFiles},
      {"_load_for_mobile", kReadsFiles},
      {"empty", kUninitialized},
      {"empty_like", kUninitialized},
      {"new_empty", kUninitialized},
      {"empty_strided", kUninitialized},
      {"new_empty_strided", kUninitialized},
      {"resize", kUninitialized},
      {"resize_", kUninitialized},
      {"resize_as", kUninitialized},
      {"resize_as_", kUninitialized},
      {"_resize_output", kUninitialized},
      {"_resize_output_", kUninitialized},
      {"set", kStorage},
      {"set_", kStorage},
      {"set_data", kStorage},
      {"storage", kStorage},
      {"untyped_storage", kStorage},
      {"_storage", kStorage},
      {"data_ptr", kStorage},
      {"_cdata", kStorage},
      {"to_here", kRemote},
      {"owner", kRemote},
      {"owner_name", kRemote},
      {"confirmed_by_owner", kRemote},
      {"is_owner", kRemote},
      {"local_value", kRemote},
      {"get_gradients", kRemote},
      {"wait", kThreads},
      {"_fork", kThreads},
      {"_wait", kThreads},
      {"set_num_threads", "changes the process-wide thread count"},
      {"set_num_interop_threads", "changes the process-wide thread count"},
      {"manual_seed", "resets the process-wide random generator"},
      {"seed", "resets the process-wide random generator"},
  };
  return table;
}

const std::unordered_map<std::string_view, std::string_view>& CriticalPrim() {
  static const std::unordered_map<std::string_view, std::string_view> table = {
      {"Print", "writes to the server's standard output"},
      {"PythonOp", "calls into Python"},
      {"IgnoredPythonOp", "calls into Python"},
      {"fork", kThreads},
      {"rpc_async", kRemote},
      {"rpc_sync", kRemote},
      {"rpc_remote", kRemote},
  };
  return table;
}

// Namespaces of libtorch itself: their operators are unknown (high) unless
// listed. c10d, rpc and the distributed ones reach the network (critical).
constexpr std::string_view kTorchNamespaces[] = {
    "quantized", "_quantized", "prims",        "nvprims",          "static_runtime", "prepacked", "sparse",
    "profiler",  "onnx",       "quantization", "mkldnn_prepacked", "mkldnn",         "_test",     "cuda",
    "_caffe2",   "tensorexpr", "fuser"};
constexpr std::string_view kNetworkNamespaces[] = {"c10d",     "rpc",           "dist_c10d",
                                                   "dist_rpc", "dist_autograd", "distributed"};

template <const auto& kList>
bool Contains(std::string_view value) {
  static const std::unordered_set<std::string_view> set(std::begin(kList), std::end(kList));
  return set.contains(value);
}

}  // namespace

Verdict CheckOperator(std::string_view ns, std::string_view name) {
  if (ns == "aten") {
    if (auto it = CriticalAten().find(name); it != CriticalAten().end())
      return {false, Severity::kCritical, it->second};
    if (Contains<kAten>(name) || Contains<kQuantizedAten>(name)) return {true, Severity::kLow, ""};
    return {false, Severity::kHigh, ""};
  }
  if (ns == "quantized" && Contains<kQuantized>(name)) return {true, Severity::kLow, ""};
  if (ns == "prim") {
    if (auto it = CriticalPrim().find(name); it != CriticalPrim().end())
      return {false, Severity::kCritical, it->second};
    if (Contains<kPrim>(name)) return {true, Severity::kLow, ""};
    return {false, Severity::kHigh, ""};
  }
  if (Contains<kNetworkNamespaces>(ns)) return {false, Severity::kCritical, kRemote};
  if (Contains<kTorchNamespaces>(ns)) return {false, Severity::kHigh, ""};
  return {false, Severity::kCritical, "is a custom operator: native code from an extension library"};
}

Verdict CheckCustomClass(std::string_view qualified_name) {
  // Custom classes (torch::class_) run native code in their constructors, methods
  // and __setstate__: only libtorch's own packed-weight holders are allowed.
  if (Contains<kCustomClasses>(qualified_name)) return {true, Severity::kLow, ""};
  return {false, Severity::kCritical, "is a custom class: native code registered by a library"};
}

bool IsValueProperty(std::string_view name) { return Contains<kValueProperties>(name); }

Verdict CheckBareName(std::string_view name, bool called) {
  if (IsPythonEscape(name)) return {false, Severity::kCritical, "is a Python escape, not TorchScript"};
  if (name == "print") return {false, Severity::kCritical, CriticalPrim().at("Print")};
  if (name == "fork") return {false, Severity::kCritical, kThreads};
  // id() and hash() of objects are their addresses; as plain variables the names are harmless.
  if (called && (name == "id" || name == "hash")) return {false, Severity::kHigh, "reveals memory addresses"};
  return {true, Severity::kLow, ""};
}

bool IsPythonEscape(std::string_view name) { return Contains<kPythonEscapes>(name); }

size_t AllowlistSize() {
  return std::size(kAten) + std::size(kQuantizedAten) + std::size(kQuantized) + std::size(kPrim) +
         std::size(kCustomClasses) + std::size(kValueProperties) + std::size(kBuiltins);
}

}  // namespace aegis::scan::internal::torchscript
