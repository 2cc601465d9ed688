-- wrk: GET /auth/forward as nginx auth_request asks it for every request of a pull, cycling
-- through every token's login.
local dir = os.getenv("BENCH_DIR")
local logins = {}
for line in io.lines(dir .. "/logins.txt") do logins[#logins + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/auth/forward", {
    ["Authorization"] = logins[n % #logins + 1],
    ["X-Original-URI"] = "/v2/wso2am/gateway/blobs/sha256:4d6c6b2e7e1c9f0c8e7b6a5d4c3b2a190817f6e5d4c3b2a1908f7e6d5c4b3a29",
    ["X-Original-Method"] = "GET",
  })
end
