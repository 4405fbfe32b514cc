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

  // Panels that draw an alert threshold, by dashboard and panel id: their
  // threshold steps follow _config.thresholds. The shipped file's last
  // step is the shipped threshold (asserted); every step is scaled by
  // configured / shipped, so the warning steps keep their proportion.
  // The Helm chart's debt-exporter.thresholdPanels lists the same panels
  // (charts/test checks it).
  local thresholdPanels = {
    outstanding: {
      '2': 'debt:threshold_last_success_age_seconds',
      '8': 'debt:threshold_oldest_unpaid_order_age_seconds',
      '14': 'debt:threshold_oldest_unpaid_order_age_seconds',
    },
    'exporter-health': {
      '3': 'debt:threshold_last_success_age_seconds',
      '9': 'debt:threshold_last_success_age_seconds',
    },
  },
  // A threshold as a number: a number, or a product of numbers written as
  // PromQL ('14 * 86400'). Anything else cannot be drawn.
  local seconds(rec, v) =
    if std.isNumber(v) then v
    else
      local factors = [std.stripChars(f, ' ') for f in std.split(v, '*')];
      assert std.isString(v) && std.all([shipped.isNumber(f) for f in factors]) :
             'debt mixin: %s: the dashboards draw it as a line, so it must be a number or a product of numbers, not %s' % [rec, std.manifestJson(v)];
      std.foldl(function(acc, f) acc * std.parseJson(f), factors, 1),
  local thresholdSteps(name, p) =
    local rec = std.get(std.get(thresholdPanels, name, {}), std.toString(p.id), null);
    if rec == null then {}
    else
      local was = seconds(rec, shipped.thresholds[rec]);
      local now = seconds(rec, c.thresholds[rec]);
      local steps = p.fieldConfig.defaults.thresholds.steps;
      assert steps[std.length(steps) - 1].value == was :
             'debt mixin: dashboard %s panel %d: its last threshold step is not %s (%s)' % [name, p.id, rec, was];
      {
        fieldConfig+: { defaults+: { thresholds+: {
          steps: [s + (if s.value == null then {} else { value: s.value * now / was }) for s in steps],
        } } },
      },

  local panel(name, p) =
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
    + thresholdSteps(name, p)
    + (if std.objectHas(p, 'panels') then { panels: [panel(name, x) for x in p.panels] } else {}),

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
      panels: [panel(name, p) for p in d.panels],
      templating+: { list: [variable(v) for v in d.templating.list] },
    },

  grafanaDashboards+:: {
    [c.dashboardUidPrefix + name + '.json']: dashboard(name, files[name])
    for name in std.objectFields(files)
  },
}
