// What the files in alerts/ and dashboards/ hold, read from them where
// they can be: the defaults of _config, and the text the mixin looks for
// when it puts another _config in. The tests render the default _config and
// compare it with those files, so the two cannot drift.
local alerts = std.parseYaml(importstr '../alerts/alerts.yaml');
local thresholds = std.parseYaml(importstr '../alerts/thresholds.yaml');

local isNumber(s) = std.length(s) > 0 && std.all([std.member('0123456789.eE+-', c) for c in std.stringChars(s)]);
// The constant of a threshold rule: vector(X) -> X.
local constant(r) =
  assert std.startsWith(r.expr, 'vector(') && std.endsWith(r.expr, ')') : 'debt mixin: %s: a threshold is vector(constant), not %s' % [r.record, r.expr];
  std.substr(r.expr, 7, std.length(r.expr) - 8);
local value(r) = local s = constant(r); if isNumber(s) then std.parseJson(s) else s;
local thresholdRules = std.flattenArrays([g.rules for g in thresholds.groups]);
local hasCurrency(r) = std.objectHas(r, 'labels') && std.objectHas(r.labels, 'currency');
local alertRules = std.flattenArrays([g.rules for g in alerts.groups]);

{
  isNumber:: isNumber,
  constant:: constant,
  hasCurrency:: hasCurrency,

  // By record name: a number (or an expression, as a string), or per
  // currency an object of them.
  thresholds: {
    [rec]:
      local rs = [r for r in thresholdRules if r.record == rec];
      if std.all([hasCurrency(r) for r in rs]) then { [r.labels.currency]: value(r) for r in rs }
      else (assert std.length(rs) == 1 : 'debt mixin: %s: several series without a currency label' % rec; value(rs[0]))
    for rec in std.set([r.record for r in thresholdRules])
  },
  alertFor: { [r.alert]: r['for'] for r in alertRules if std.objectHas(r, 'for') },
  keepFiringFor: { [r.alert]: r.keep_firing_for for r in alertRules if std.objectHas(r, 'keep_firing_for') },

  // Written in the expressions, where PromQL needs literals.
  apiRateWindow: '15m',
  growthWindow: '6h',
  forecastLookback: '6h',
  oldDebtAges: '(([7-9]|[1-9][0-9]+)d|[1-9][0-9]*[wy]|(16[89]|1[7-9][0-9]|[2-9][0-9]{2}|[1-9][0-9]{3,})h)([0-9]+[a-z]+)*(-.*|[+])',

  debtSelector: 'job="debt"',
  debtAccountsSelector: 'job="debt-accounts"',
  runbookURLPrefix: 'https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-',
  dashboardTitlePrefix: 'Debt / ',
  dashboardUidPrefix: 'debt-',
}
