-- wrk: POST a reset request for a random one of the 100k seeded users,
-- with the CSRF cookie the benchmark fetched.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("COOKIE")

request = function()
  local body = string.format(
    '{"email":"u%d@example.com","callbackUrl":"http://localhost:3000/done","redirectUrl":"http://localhost:3000/reset"}',
    math.random(1, 100000))
  return wrk.format(nil, nil, nil, body)
end
