-- wrk script: simulated USSD callers walking a 9-hop journey through Ngazi.
--
--   [USSD_THINK_MS=N] wrk -tT -cC -dDs -s bench/ussd.lua URL -- MODE RING TAG [FIRST]
--
-- MODE   "ussd"   each request is the next hop of the next caller in the ring;
--        "prime"  walk each caller of the ring up to its starting hop (see below),
--                 one hop per caller a round, each round answered before the
--                 next; print "PRIMED <thread> <hops>" once all are answered,
--                 then send /bench/hello until stopped (bench/ussd.py sends
--                 SIGINT);
--        "hello"  the same form bodies, posted to /bench/hello (the ceiling:
--                 same server, same HTTP, no work).
-- RING   callers per wrk thread, all mid-session.
-- TAG    one digit, different for every ring used against one database, so
--        phone numbers and session ids are never reused (a "prime" run and the
--        "ussd" run that continues its ring share a TAG, RING and -t).
-- FIRST  (with think time) connections per thread: the first request on each
--        connection goes at once and is a /bench/hello (see delay() below).
-- USSD_THINK_MS (environment) mean think time per connection between
--        requests, exponentially distributed; unset or 0: none (saturating).
--
-- Callers and connections. wrk's Lua state is per thread and response() does not
-- say which request it answers, so a caller is not tied to a connection: each
-- thread keeps a ring of RING callers and every request() takes the next caller
-- in turn and sends its next hop. A caller's next hop goes out RING requests after
-- its previous one, long after that one was answered, so a caller never has two
-- hops in flight, as on a real phone. Connections play the gateway's pool of
-- persistent HTTP connections, each carrying many callers' callbacks.
--
-- Steady state from the first request. Caller i of the ring starts at hop
-- 1 + (i - 1) % 9 of its first journey, so the ring is spread evenly over the
-- journey and every stretch of requests has the steady-state mix of hops. The "prime" run makes
-- that true on the server: it plays each caller's earlier hops beforehand.
--
-- Every response is checked: HTTP 200 and a body starting "CON " or "END "
-- (else "bad"); an END, "Invalid choice" or "Session restarted" means the journey
-- went off its path ("unexpected": no hop of this journey ends a session). The
-- screens with fixed titles are counted too: as many language screens and main
-- menus must come back as went out (a first-time caller's hop 1 is the language
-- screen, hops 2 and 9 the main menu; a returning caller's hops 1 and 9 the main
-- menu), bar those in flight.
-- done() prints one line "BENCH_JSON {...}" for bench/ussd.py.
--
-- What this script shares with bench/survey.lua is in bench/common.lua.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local urlencode = common.urlencode

-- A first-time caller: the language screen, then browsing.
local NEW_HOPS = {
  "",
  "1", -- English
  "1*1", -- Policies & benefits: categories
  "1*1*1", -- first category: article list
  "1*1*1*1", -- first article, page 1
  "1*1*1*1*98", -- page 2
  "1*1*1*1*98*0", -- back to page 1
  "1*1*1*1*98*0*0", -- back to the article list
  "1*1*1*1*98*0*0*00", -- home
}
-- A returning caller (language chosen before): the main menu first.
local BACK_HOPS = {
  "", -- main menu
  "1", -- Policies & benefits: categories
  "1*1", -- first category: article list
  "1*1*1", -- first article, page 1
  "1*1*1*98", -- page 2
  "1*1*1*98*0", -- back to page 1
  "1*1*1*98*0*0", -- back to the article list
  "1*1*1*98*0*0*0", -- back to the categories
  "1*1*1*98*0*0*0*00", -- home
}
local NHOPS = #NEW_HOPS
-- USSD_NEW_EVERY (environment): one journey in N is a first-time caller (who
-- writes to PostgreSQL twice: first contact and the language choice); the rest
-- are returning callers from a pool of USSD_POOL numbers per wrk thread, which
-- bench/ussd.py registers beforehand (+25410 TT PPPPP: thread, pool index).
-- 1: every journey is a first-time caller.
local new_every = tonumber(os.getenv("USSD_NEW_EVERY") or "10") or 10
local pool = tonumber(os.getenv("USSD_POOL") or "5000") or 5000

setup = common.setup

function init(args)
  common.init(args, 256)
  path = (mode == "hello") and "/bench/hello" or common.callback("/ussd")

  -- counters read back by done() through thread:get()
  responses, bad, bad_status, unexpected, ends, journeys, hellos = 0, 0, 0, 0, 0, 0, 0
  first_bad, first_odd = "", ""
  -- screens with a fixed title, sent and seen: the language screen answers hop 1,
  -- the main menu hops 2 and 9 (a caller whose state went missing would see
  -- another screen, though still a "CON ")
  sent_lang, seen_lang, sent_home, seen_home = 0, 0, 0, 0

  -- caller i: next hop (1-based) and journey number
  hop, journey = {}, {}
  for i = 1, ring do
    hop[i] = 1 + (i - 1) % NHOPS
    journey[i] = i - 1
  end
  next_journey = ring
  cursor = 0

  -- prime: callers with earlier hops to play, walked round-robin
  if mode == "prime" then
    active, upto, prime_total, prime_sent, prime_done = {}, {}, 0, 0, 0
    for i = 1, ring do
      upto[i] = hop[i] - 1 -- play hops 1 .. upto[i]
      hop[i] = 1
      if upto[i] > 0 then
        table.insert(active, i)
        prime_total = prime_total + upto[i]
      end
    end
    apos = 0
  end
end

-- The form body of caller i's next hop; moves the caller on.
local function next_hop(i)
  local h = hop[i]
  local j = journey[i]
  local fresh = (j % new_every == 0)
  local phone, text
  if fresh then
    -- +2547 T TT JJJJJ: tag, thread, journey (wraps after 100000 journeys a thread)
    phone = string.format("%%2B2547%d%02d%05d", tag, tid, j % 100000)
    text = NEW_HOPS[h]
    if h == 1 then
      sent_lang = sent_lang + 1
    elseif h == 2 or h == NHOPS then
      sent_home = sent_home + 1
    end
  else
    phone = string.format("%%2B25410%02d%05d", tid, (j * 7919) % pool)
    text = BACK_HOPS[h]
    if h == 1 or h == NHOPS then
      sent_home = sent_home + 1
    end
  end
  local sid = string.format("ATUid_bench_%d_%d_%d", tag, tid, j)
  local body = "sessionId=" .. sid .. "&phoneNumber=" .. phone .. fixed .. urlencode(text)
  if h >= NHOPS then
    hop[i] = 1
    journey[i] = next_journey
    next_journey = next_journey + 1
    journeys = journeys + 1
  else
    hop[i] = h + 1
  end
  return body
end

local hello = common.hello

local function prime_request()
  while true do
    if apos < #active then
      apos = apos + 1
      prime_sent = prime_sent + 1
      return wrk.format("POST", path, headers, next_hop(active[apos]))
    end
    -- End of a round (one hop for every caller still priming): the next round
    -- waits until this one is answered, so a caller's hops can never overtake
    -- each other, even behind a stall (a cold worker); connections send
    -- /bench/hello meanwhile.
    if prime_done < prime_sent then
      return hello()
    end
    local still = {}
    for _, i in ipairs(active) do
      if hop[i] <= upto[i] then
        table.insert(still, i)
      end
    end
    active, apos = still, 0
    if #active == 0 then
      return hello()
    end
  end
end

function request()
  if phantom then
    return common.check_request()
  end
  if mode == "prime" then
    return prime_request()
  end
  if started < first then
    started = started + 1
    return hello()
  end
  cursor = cursor % ring + 1
  return wrk.format("POST", path, headers, next_hop(cursor))
end

-- Think time: USSD_THINK_MS, see bench/common.lua.
if common.think_ms > 0 then
  delay = common.think_delay(common.think_ms)
end

function response(status, headers, body)
  responses = responses + 1
  local prefix = string.sub(body, 1, 4)
  if status ~= 200 then
    bad_status = bad_status + 1
    bad = bad + 1
  elseif prefix ~= "CON " and prefix ~= "END " then
    bad = bad + 1
  elseif
    prefix == "END "
    or string.find(body, "Invalid choice", 1, true)
    or string.find(body, "Session restarted", 1, true)
  then
    ends = ends + (prefix == "END " and 1 or 0)
    unexpected = unexpected + 1
    if first_odd == "" then
      first_odd = string.sub(body, 1, 80)
    end
  end
  if string.find(body, "CON Language/Lugha/", 1, true) == 1 then
    seen_lang = seen_lang + 1
  elseif string.find(body, "CON Ngazi main menu\n", 1, true) == 1 then
    seen_home = seen_home + 1
  end
  if (status ~= 200 or prefix ~= "CON ") and first_bad == "" then
    first_bad = status .. " " .. string.sub(body, 1, 80)
  end
  if mode == "prime" and body ~= "CON hello" then
    prime_done = prime_done + 1
    if prime_done == prime_total then
      io.write(string.format("PRIMED %d %d\n", tid, prime_total))
      io.stdout:flush()
    end
  end
end

function done(summary, latency, requests)
  common.report(summary, latency, {
    "responses",
    "bad",
    "bad_status",
    "unexpected",
    "ends",
    "journeys",
    "hellos",
    "sent_lang",
    "seen_lang",
    "sent_home",
    "seen_home",
  })
end
