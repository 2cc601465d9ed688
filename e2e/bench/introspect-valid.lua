-- wrk: POST /oauth2/introspect with valid secrets only (the side of a flood that must get through).
local dir = os.getenv("BENCH_DIR")
local valid = {}
for line in io.lines(dir .. "/valid.txt") do valid[#valid + 1] = line end
local auth = "Basic " .. (os.getenv("GATEWAY_BASIC") or "")
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, "token=" .. valid[n % #valid + 1])
end
