-- zipf.lua - wrk script: paths of a listing requested with a Zipf popularity.
--
--   wrk -t1 -c64 -d20s -s bench/e2e/zipf.lua http://127.0.0.1:PORT/ -- PATHS [S] [HOT]
--
-- PATHS is a file of URL paths, one per line, most popular first (hugetree.py writes it
-- in a fixed shuffled order). The path of rank k (1-based) is requested with probability
-- proportional to 1/k^S (S = 0.9 unless given). With HOT = N, only the N most popular
-- paths are requested, uniformly: the "hot set" client whose latency is measured while
-- the Zipf client runs the misses.
--
-- Sampling inverts the cumulative distribution by binary search over a table built once
-- in init() (8 bytes per path); requests are formatted on first use and kept, so the
-- per-request Lua cost is one random number, about 20 comparisons and a table lookup.
-- Fixed seed: every server sees the same sequence of paths.
local paths, n, cdf, reqs, hot = {}, 0, {}, {}, 0

function init(args)
  local file = assert(args[1], "usage: -- PATHS [S] [HOT]")
  local s = tonumber(args[2] or "0.9")
  hot = tonumber(args[3] or "0")
  local f = assert(io.open(file, "r"), "cannot open path list " .. file)
  for line in f:lines() do
    if #line > 0 then
      n = n + 1
      paths[n] = line
    end
  end
  f:close()
  assert(n > 0, "empty path list " .. file)
  if hot > 0 then
    n = math.min(n, hot)
  else
    local sum = 0
    for k = 1, n do
      sum = sum + 1 / k ^ s
      cdf[k] = sum
    end
    for k = 1, n do
      cdf[k] = cdf[k] / sum
    end
  end
  math.randomseed(20261201 + hot)
end

local function rank()
  if hot > 0 then
    return math.random(n)
  end
  local u = math.random()
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end

function request()
  local k = rank()
  local r = reqs[k]
  if not r then
    r = wrk.format(nil, paths[k])
    reqs[k] = r
  end
  return r
end
