// debt_exporter monitoring mixin.
//
// The rules and dashboards are the plain YAML and JSON files shipped in
// alerts/ and dashboards/, written and tested as they are; mixin/ reads them
// and puts in a _config (mixin/config.libsonnet: selectors, thresholds,
// durations, dashboard titles, uids and tags). The default _config renders
// them unchanged (e2e/mixin_test.go). Thresholds are series recorded by
// prometheusRules: load prometheusRules together with prometheusAlerts.
//
//   local debt = (import 'mixin.libsonnet') + {
//     _config+:: {
//       debtSelector: 'job="billing",cluster="eu"',
//       debtSeriesSelector: self.debtSelector,
//       thresholds+: { 'debt:threshold_unpaid_amount'+: { CNY: 250000 } },
//     },
//   };
//   { 'debt.rules.yaml': std.manifestYamlDoc(debt.prometheusRules + debt.prometheusAlerts) }
(import 'mixin/config.libsonnet')
+ (import 'mixin/rules.libsonnet')
+ (import 'mixin/dashboards.libsonnet')
