// grafanaDashboards: the files of dashboards/ with _config put in.
local lib = import 'lib.libsonnet';
local metrics = import 'metrics.libsonnet';
local shipped = import 'shipped.libsonnet';

local files = {
  outstanding: std.parseJson(importstr '../dashboards/debt-outstanding.json'),
  'exporter-health': std.parseJson(importstr '../dashboards/debt-exporter-health.json'),
};

{
  local c = $._config,
  local raw = metrics.exporter + metrics.prometheus,
  local query(e) = lib.withSelector(e, raw, c.debtSeriesSelector),

  local strip(s, prefix, what) =
    assert std.startsWith(s, prefix) : 'debt mixin: dashboard %s %s does not start with %s' % [what, s, prefix];
    std.substr(s, std.length(prefix), std.length(s) - std.length(prefix)),

  // The forecast panel's look-back is the alerts' (forecastLookback).
  local isForecast(p) = std.any([std.length(std.findSubstr('predict_linear(', std.get(t, 'expr', ''))) > 0 for t in std.get(p, 'targets', [])]),
  local lookback(s) = lib.replace(s, '[' + shipped.forecastLookback + ']', '[' + c.forecastLookback + ']', 'forecast panel'),

  local panel(p) =
    p
    + (if std.objectHas(p, 'targets') then {
         targets: [
           t + (if std.objectHas(t, 'expr') then { expr: query(if isForecast({ targets: [t] }) then lookback(t.expr) else t.expr) } else {})
           for t in p.targets
         ],
       } else {})
    + (if isForecast(p) then {
         description: lib.replace(p.description, 'the last ' + lib.humanDuration(shipped.forecastLookback), 'the last ' + lib.humanDuration(c.forecastLookback), 'forecast panel'),
       } else {})
    + (if std.objectHas(p, 'panels') then { panels: [panel(x) for x in p.panels] } else {}),

  local variable(v) =
    if v.type != 'query' then v
    else v {
      definition: query(v.definition),
      query: if std.isObject(v.query) then v.query { query: query(v.query.query) } else query(v.query),
    },

  local dashboard(name, d) =
    d {
      uid:
        assert d.uid == shipped.dashboardUidPrefix + name : 'debt mixin: dashboard uid %s is not %s' % [d.uid, shipped.dashboardUidPrefix + name];
        c.dashboardUidPrefix + name,
      title: c.dashboardTitlePrefix + strip(d.title, shipped.dashboardTitlePrefix, 'title'),
      tags: c.dashboardTags,
      links: [l + (if std.objectHas(l, 'tags') then { tags: c.dashboardLinkTags } else {}) for l in d.links],
      panels: [panel(p) for p in d.panels],
      templating+: { list: [variable(v) for v in d.templating.list] },
    },

  grafanaDashboards+:: {
    [c.dashboardUidPrefix + name + '.json']: dashboard(name, files[name])
    for name in std.objectFields(files)
  },
}
