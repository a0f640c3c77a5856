-- wrk script: farmers' SMS posted to Ngazi's incoming-message callback, as
-- Africa's Talking posts them (form-encoded from, to, text, date, id, linkId).
--
--   INBOUND_TEXTS=FILE [INBOUND_FIRST=N] [USSD_THINK_MS=N] wrk -tT -cC -dDs -s bench/inbound.lua URL -- MODE FARMERS TAG
--
-- MODE     "sms"    each request is a new message to POST /sms/inbound;
--          "hello"  the same form bodies, posted to /bench/hello (the ceiling:
--                   same server, same HTTP, nothing stored).
-- FARMERS  senders per wrk thread: +25471 TT PPPPP (thread, farmer), each
--          message from a farmer drawn at random, so most farmers send several.
-- TAG      one digit, different for every run against one database: the
--          gateway id ATXid_<tag>_<thread>_<n> is never posted twice.
-- INBOUND_TEXTS (environment) the texts, one a line, already form-encoded
--          (bench/inbound.py writes them); each message takes the next text of
--          the thread's shuffled list.
-- INBOUND_FIRST (environment) connections per thread: the first request on each
--          connection is a /bench/hello, not counted (see bench/ussd.py: gunicorn's
--          gthread worker can hold a new connection's first request).
--
-- Every response is checked: in "sms" mode HTTP 200 with the body "OK" is
-- accepted; anything else is bad (the first one is kept). done() prints one line
-- "BENCH_JSON {...}" for bench/ussd.py's run_wrk; "checked" has accepted (the
-- messages the webhook took), bad, hellos (not messages) and sent (messages
-- that went out, answered or not when wrk stopped).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

setup = common.setup

local texts = {}
do
  local path = os.getenv("INBOUND_TEXTS") or error("INBOUND_TEXTS is not set")
  for line in io.lines(path) do
    table.insert(texts, line)
  end
  if #texts == 0 then
    error("no texts in " .. path)
  end
end

function init(args)
  common.init(args, 2000)
  path = (mode == "hello") and "/bench/hello" or common.callback("/sms/inbound")
  first = tonumber(os.getenv("INBOUND_FIRST") or "0") or 0
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  accepted, bad, hellos, sent, hello_answers = 0, 0, 0, 0, 0
  first_bad, first_odd = "", ""
  n = 0
  -- each thread its own order of the texts (Fisher-Yates, seeded per thread)
  order = {}
  for i = 1, #texts do
    order[i] = i
  end
  for i = #order, 2, -1 do
    local j = math.random(i)
    order[i], order[j] = order[j], order[i]
  end
end

local function hex(digits)
  local out = {}
  for i = 1, digits do
    out[i] = string.format("%x", math.random(0, 15))
  end
  return table.concat(out)
end

-- The next message's form body, as the gateway posts it.
local function message()
  n = n + 1
  local farmer = math.random(0, ring - 1)
  local text = texts[order[1 + (n - 1) % #texts]]
  return "from="
    .. string.format("%%2B25471%02d%05d", tid, farmer)
    .. "&to=21234"
    .. "&text="
    .. text
    .. "&date="
    .. common.urlencode(os.date("!%Y-%m-%d %H:%M:%S"))
    .. "&id="
    .. string.format("ATXid_%d_%d_%d", tag, tid, n)
    .. "&linkId="
    .. hex(8)
    .. "-"
    .. hex(4)
    .. "-"
    .. hex(12)
end

function request()
  if phantom then
    phantom = false
    return wrk.format("POST", "/bench/hello", headers, "id=check")
  end
  if started < first then
    started = started + 1
    hellos = hellos + 1
    return wrk.format("POST", "/bench/hello", headers, message())
  end
  sent = sent + 1
  return wrk.format("POST", path, headers, message())
end

-- Think time: USSD_THINK_MS, see bench/common.lua (bench/soak.py paces its
-- farmers with it; bench/inbound.py runs closed loop).
if common.think_ms > 0 then
  delay = common.think_delay(common.think_ms)
end

function response(status, headers, body)
  if body == "CON hello" and mode ~= "hello" then
    hello_answers = hello_answers + 1 -- an opener's answer
    return
  end
  if status == 200 and (mode == "hello" or body == "OK") then
    accepted = accepted + 1
  else
    bad = bad + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body, 1, 80)
    end
  end
end

function done(summary, latency, requests)
  common.report(summary, latency, { "accepted", "bad", "hellos", "sent", "hello_answers" })
end
