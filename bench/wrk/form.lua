-- The web form's POST by a signed-in browser: QS_COOKIE is its session cookie, QS_CSRF the
-- session's CSRF token. Each request is a new rendered form (its own submission_id), as a user
-- filling the form again would send; the same id would only replay the first quotation.
-- A good submission answers 303 (to the quotation's page), which wrk counts as success.
local counter = 0
local thread_tag = "t"

setup = function(thread)
  counter = counter + 1
  thread:set("thread_tag", string.format("t%02d", counter))
end

local function encode(value)
  return (value:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local fields = {
  {"csrf_token", os.getenv("QS_CSRF")},
  {"customer_name", "Smith & Sons <Ltd>"}, {"customer_email", "buyer@example.com"},
  {"customer_company", "Acme"}, {"customer_address", "1 Main St\nSpringfield"},
  {"currency", "EUR"}, {"valid_until", os.date("%Y-%m-%d", os.time() + 60 * 86400)},
  {"notes", "Thanks"}, {"template", "standard"},
  {"lines-0-description", "Widget"}, {"lines-0-quantity", "2"}, {"lines-0-unit_price", "99.50"},
  {"lines-0-tax_rate", "20"}, {"lines-0-discount_pct", "0"},
}
local parts = {}
for _, pair in ipairs(fields) do parts[#parts + 1] = pair[1] .. "=" .. encode(pair[2]) end
local fixed = table.concat(parts, "&")
local sent = 0

request = function()
  sent = sent + 1
  local body = fixed .. "&submission_id=" .. string.format("bench%s%012d", thread_tag, sent)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = os.getenv("QS_COOKIE"),
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.2f p99=%.2f non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
