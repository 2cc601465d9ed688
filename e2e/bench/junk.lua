-- wrk: a junk flood at POST /oauth2/introspect from one address: malformed secrets, and
-- well-formed ones (right prefix and checksum) that no token has, half and half.
local dir = os.getenv("BENCH_DIR")
local unknown = {}
for line in io.lines(dir .. "/unknown.txt") do unknown[#unknown + 1] = line end
local auth = "Basic " .. (os.getenv("GATEWAY_BASIC") or "")
local n = 0
request = function()
  n = n + 1
  local secret
  if n % 2 == 0 then secret = "tgr_junk" .. n else secret = unknown[n % #unknown + 1] end
  return wrk.format("POST", "/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, "token=" .. secret)
end
