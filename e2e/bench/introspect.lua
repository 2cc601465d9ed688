-- wrk: POST /oauth2/introspect with a mix of secrets: 90% valid, 5% unknown, 5% re-generated.
local dir = os.getenv("BENCH_DIR")
local function lines(name)
  local t = {}
  for line in io.lines(dir .. "/" .. name) do t[#t + 1] = line end
  return t
end
local valid, unknown, regenerated = lines("valid.txt"), lines("unknown.txt"), lines("regenerated.txt")
local auth = "Basic " .. (os.getenv("GATEWAY_BASIC") or "")
local n = 0
request = function()
  n = n + 1
  local pick = n % 20
  local secret
  if pick == 0 then secret = unknown[math.floor(n / 20) % #unknown + 1]
  elseif pick == 10 then secret = regenerated[math.floor(n / 20) % #regenerated + 1]
  else secret = valid[n % #valid + 1] end
  return wrk.format("POST", "/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, "token=" .. secret)
end
