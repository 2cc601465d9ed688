-- wrk: GET /auth/token as docker pulls do, cycling through every token's login.
local dir = os.getenv("BENCH_DIR")
local logins = {}
for line in io.lines(dir .. "/logins.txt") do logins[#logins + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/auth/token?service=tollgate-registry&scope=repository:wso2am/gateway:pull",
    { ["Authorization"] = logins[n % #logins + 1] })
end
