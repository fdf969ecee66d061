-- wrk script: POSTs the same KServe v2 inference request over and over with a bearer token.
--
--   BENCH_BODY_FILE  path of the JSON request body (required)
--   BENCH_TOKEN      bearer token (required)
--
-- The URL given to wrk carries the path, e.g. https://127.0.0.1:8443/v2/models/mlp/infer.
-- wrk does not verify TLS certificates; correctness is checked by run_bench.py beforehand.
local f = assert(io.open(assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE not set"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN not set")
