-- wrk: POST /auth/token, the OAuth2 variant containerd asks first, cycling through every
-- token's password grant.
local dir = os.getenv("BENCH_DIR")
local forms = {}
for line in io.lines(dir .. "/forms.txt") do forms[#forms + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/auth/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, forms[n % #forms + 1])
end
