-- wrk: GET BENCH_PATH with the bearer token BENCH_BEARER, as the portal asks for a page.
local path = os.getenv("BENCH_PATH")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER"), ["Accept"] = "application/json" }
request = function()
  return wrk.format("GET", path, headers)
end
