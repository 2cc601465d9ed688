-- wrk: /oauth2/introspect (BENCH_MODE=introspect) or GET /auth/token (BENCH_MODE=token) with
-- a secret or login drawn at random from BENCH_FILE (one per line) for every request.
local dir = os.getenv("BENCH_DIR")
local mode = os.getenv("BENCH_MODE") or "introspect"
local lines = {}
for line in io.lines(dir .. "/" .. os.getenv("BENCH_FILE")) do lines[#lines + 1] = line end
local auth = "Basic " .. (os.getenv("GATEWAY_BASIC") or "")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed or os.time())
end

request = function()
  local pick = lines[math.random(1, #lines)]
  if mode == "token" then
    return wrk.format("GET", "/auth/token?service=tollgate-registry&scope=repository:wso2am/gateway:pull",
      { ["Authorization"] = pick })
  end
  return wrk.format("POST", "/oauth2/introspect",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, "token=" .. pick)
end
