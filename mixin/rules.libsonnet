// prometheusAlerts and prometheusRules: the files of alerts/ with _config
// put in.
local lib = import 'lib.libsonnet';
local metrics = import 'metrics.libsonnet';
local shipped = import 'shipped.libsonnet';

local alertsFile = std.parseYaml(importstr '../alerts/alerts.yaml');
local rulesFile = std.parseYaml(importstr '../alerts/rules.yaml');
local thresholdsFile = std.parseYaml(importstr '../alerts/thresholds.yaml');

{
  local c = $._config,
  local h = lib.humanDuration,
  local outstanding = shipped.dashboardTitlePrefix + 'Outstanding',
  local outstandingNow = c.dashboardTitlePrefix + 'Outstanding',

  // Per rule, the literal text that follows a knob: [old, new] pairs in
  // its expr and description. Each old text must be there (lib.replace).
  local edits = {
    DebtExporterDown: {
      description: [['for more than ' + h(shipped.alertFor.DebtExporterDown), 'for more than ' + h(c.alertFor.DebtExporterDown)]],
    },
    DebtAccountProbeFailing: {
      description: [['for more than ' + h(shipped.alertFor.DebtAccountProbeFailing), 'for more than ' + h(c.alertFor.DebtAccountProbeFailing)]],
    },
    DebtExporterAbsent: {
      description: [['for ' + h(shipped.alertFor.DebtExporterAbsent), 'for ' + h(c.alertFor.DebtExporterAbsent)]],
    },
    DebtSweepsFailing: {
      description: [['for ' + h(shipped.alertFor.DebtSweepsFailing), 'for ' + h(c.alertFor.DebtSweepsFailing)]],
    },
    local api = {
      expr: [['[' + shipped.apiRateWindow + ']', '[' + c.apiRateWindow + ']']],
      description: [['over the last ' + h(shipped.apiRateWindow), 'over the last ' + h(c.apiRateWindow)]],
    },
    DebtAPIErrors: api,
    DebtAPIThrottled: api,
    DebtUnpaidAmountHigh: {
      description: [[outstanding, outstandingNow]],
    },
    DebtUnpaidAmountGrowingFast: {
      expr: [['[' + shipped.growthWindow + ']', '[' + c.growthWindow + ']']],
      description: [['in the last ' + h(shipped.growthWindow), 'in the last ' + h(c.growthWindow)]],
    },
    DebtUnpaidAmountForecastHigh: {
      expr: [['[' + shipped.forecastLookback + ']', '[' + c.forecastLookback + ']']],
      description: [
        ['over the last ' + h(shipped.forecastLookback), 'over the last ' + h(c.forecastLookback)],
        [outstanding, outstandingNow],
      ],
    },
    DebtUnpaidAmountOld: {
      expr: [['"' + shipped.oldDebtAges + '"', std.manifestJson(c.oldDebtAges)]],
      description: [[outstanding, outstandingNow]],
    },
    'job_instance_currency:debt_unpaid_amount:deriv': {
      expr: [['[' + shipped.forecastLookback + ']', '[' + c.forecastLookback + ']']],
    },
  },

  local applyEdits(s, pairs, where) = std.foldl(function(acc, p) lib.replace(acc, p[0], p[1], where), pairs, s),

  // The rules that pair a debt_ series with its own target's up (on job
  // and instance, of whatever job: an account read through /probe is a
  // target of its own): that up is one of the series they select, and
  // takes debtSeriesSelector as those do, not debtSelector.
  local ownUp = ['DebtFiguresStale', 'instance:debt_no_success_since_timestamp_seconds'],

  local expr(r) =
    local name = if std.objectHas(r, 'alert') then r.alert else r.record;
    // job="debt-accounts" and job="debt" in one pass, so that neither
    // selector is rewritten inside the other.
    local jobs = std.join(c.debtAccountsSelector, [std.strReplace(part, 'job="debt"', c.debtSelector) for part in std.split(r.expr, 'job="debt-accounts"')]);
    local e = applyEdits(jobs, std.get(std.get(edits, name, {}), 'expr', []), name);
    lib.withSelector(e, metrics.exporter + (if std.member(ownUp, name) then ['up'] else []), c.debtSeriesSelector),

  local rule(r) =
    r { expr: expr(r) }
    + (if std.objectHas(r, 'alert') then
         local e = std.get(edits, r.alert, {});
         (if std.objectHas(c.alertFor, r.alert) then { 'for': c.alertFor[r.alert] } else {})
         + (if std.objectHas(c.keepFiringFor, r.alert) then { keep_firing_for: c.keepFiringFor[r.alert] } else {})
         + {
           annotations+: {
             description: applyEdits(super.description, std.get(e, 'description', []), r.alert),
             runbook_url: c.runbookURLPrefix + std.asciiLower(r.alert),
           },
         }
       else {}),

  local shippedRunbooks = std.all([
    r.annotations.runbook_url == shipped.runbookURLPrefix + std.asciiLower(r.alert)
    for g in alertsFile.groups
    for r in g.rules
  ]),

  local vector(v, was) =
    'vector(' + (if std.isNumber(v) && shipped.isNumber(was) && std.parseJson(was) == v then was else lib.number(v)) + ')',

  // The threshold rules with the values of c.thresholds; currencies the
  // file lacks follow the record's last series.
  local thresholdRules(rules) = std.flattenArrays([
    local r = rules[i];
    assert std.objectHas(c.thresholds, r.record) : 'debt mixin: _config.thresholds has no %s' % r.record;
    local v = c.thresholds[r.record];
    if shipped.hasCurrency(r) then
      local last = i == std.length(rules) - 1 || rules[i + 1].record != r.record;
      local cur = r.labels.currency;
      local mine = if std.isObject(v) then std.get(v, cur, null) else v;
      local inFile = [x.labels.currency for x in rules if x.record == r.record];
      (if mine == null then [] else [r { expr: vector(mine, shipped.constant(r)) }])
      + (if last && std.isObject(v) then [
           { record: r.record, expr: vector(v[k], ''), labels: { currency: k } }
           for k in std.objectFields(v)
           if !std.member(inFile, k) && v[k] != null
         ] else [])
    else
      [r { expr: vector(v, shipped.constant(r)) }]
    for i in std.range(0, std.length(rules) - 1)
  ]),

  prometheusAlerts+:: {
    assert shippedRunbooks : 'debt mixin: a runbook_url of alerts/alerts.yaml does not follow ' + shipped.runbookURLPrefix + '<alert>',
    groups+: [g { rules: [rule(r) for r in g.rules] } for g in alertsFile.groups],
  },

  // Load with prometheusAlerts: the alerts compare against the threshold
  // series and read the recorded ones.
  prometheusRules+:: {
    groups+:
      [g { rules: thresholdRules(g.rules) } for g in thresholdsFile.groups]
      + [g { rules: [rule(r) for r in g.rules] } for g in rulesFile.groups],
  },
}
