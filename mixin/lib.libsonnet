// Helpers of the debt_exporter mixin: the shipped YAML and JSON are the
// source, and these put a _config into them.
{
  local isIdent(c) =
    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':',

  // nextNonSpace is the index of the first byte at or after i that is not
  // white space, or the length of s.
  local nextNonSpace(s, i) =
    local n = std.length(s);
    local go(j) = if j < n && std.member(' \t\r\n', s[j]) then go(j + 1) tailstrict else j;
    go(i),

  // withSelector adds the matchers in sel to every selector of the metrics
  // named in names in a PromQL expression (or a label_values() query):
  // debt_up == 0 becomes debt_up{sel} == 0, and debt_up{a="b"} becomes
  // debt_up{sel, a="b"}. A selector without a name that names series by
  // __name__ ({__name__=~"debt_up|debt_exporter_build_info"}, the health
  // dashboard's job and instance variables) gets sel too. Label values,
  // ranges and other names are left alone. An empty sel changes nothing.
  withSelector(expr, names, sel)::
    if sel == '' then expr else
      local n = std.length(expr);
      local metric = { [m]: true for m in names };
      // Called at the end of a word: emit it, and the selector if the word
      // is one of the metrics (pending: its own braces follow).
      local flush(st, i) =
        if st.word == '' then st
        else if std.objectHas(metric, st.word) then
          if nextNonSpace(expr, i) < n && expr[nextNonSpace(expr, i)] == '{' then
            st { out+: st.word, word: '', pending: true }
          else
            st { out+: st.word + '{' + sel + '}', word: '' }
        else st { out+: st.word, word: '' };
      local step(st, i) =
        local c = expr[i];
        if st.mode == 'string' then
          st {
            out+: c,
            esc: !st.esc && c == '\\' && st.quote != '`',
            mode: if !st.esc && c == st.quote then st.ret else 'string',
          }
        else if st.mode == 'brace' then
          if c == '"' || c == "'" || c == '`' then st { out+: c, mode: 'string', quote: c, ret: 'brace', esc: false }
          else st { out+: c, mode: if c == '}' then 'code' else 'brace' }
        else if st.mode == 'range' then
          st { out+: c, mode: if c == ']' then 'code' else 'range' }
        else if isIdent(c) then
          st { word+: c }
        else
          local f = flush(st, i);
          // A selector without a metric name before it, by __name__.
          local byName(j) =
            local rest = std.substr(expr, j, n - j);
            local close = std.findSubstr('}', rest);
            local inner = if std.length(close) > 0 then std.substr(rest, 0, close[0]) else rest;
            st.word == '' && std.length(std.findSubstr('__name__', inner)) > 0;
          if c == '{' then
            f {
              out+: '{' + (if f.pending || byName(i) then sel + (if expr[nextNonSpace(expr, i + 1)] == '}' then '' else ', ') else ''),
              pending: false,
              mode: 'brace',
            }
          else if c == '"' || c == "'" || c == '`' then f { out+: c, mode: 'string', quote: c, ret: 'code', esc: false }
          else if c == '[' then f { out+: c, mode: 'range' }
          else f { out+: c };
      local end = std.foldl(step, std.range(0, n - 1), { out: '', word: '', mode: 'code', quote: '', ret: 'code', esc: false, pending: false });
      flush(end, n).out,

  // replace replaces old by new in s, and fails when s has no old: the
  // shipped file changed under the mixin, which must change too.
  replace(s, old, new, where)::
    assert std.length(std.findSubstr(old, s)) > 0 : 'debt mixin: %s: %s not found in %s' % [where, std.manifestJson(old), std.manifestJson(s)];
    std.strReplace(s, old, new),

  // humanDuration spells a Prometheus duration as the descriptions do:
  // 10m is "10 minutes", 1h "1 hour"; anything else stays as written.
  humanDuration(d)::
    local units = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', y: 'year' };
    local u = std.substr(d, std.length(d) - 1, 1);
    local num = std.substr(d, 0, std.length(d) - 1);
    if std.length(d) >= 2 && std.objectHas(units, u) && std.all([std.member('0123456789', c) for c in std.stringChars(num)]) then
      num + ' ' + units[u] + (if num == '1' then '' else 's')
    else d,

  // number renders a threshold as PromQL: a number in shortest form, a
  // string (an expression such as 14 * 86400) as written.
  number(v)::
    if std.isString(v) then v
    else if v == std.floor(v) && std.abs(v) < 1e15 then std.toString(v)
    else std.strReplace('%.15g' % v, '+', ''),
}
