-- wrk script for scripts/bench-serve.sh: POSTs AuthZEN evaluations read from BODIES (one JSON
-- body a line), round robin, each thread from its own offset; counts non-200 answers.
local bodies = {}
local counter = 0
local token = os.getenv("ROSTER_SERVE_TOKEN")

function init(args)
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
  counter = math.random(#bodies)
end

function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/access/v1/evaluation",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, bodies[counter])
end
