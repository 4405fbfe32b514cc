// debt_exporter monitoring mixin.
//
// The rules and dashboards are the plain YAML and JSON files shipped in
// alerts/ and dashboards/; this file only wraps them, so there is one copy.
// Thresholds are series recorded by alerts/thresholds.yaml, part of
// prometheusRules: load prometheusRules together with prometheusAlerts.
{
  prometheusAlerts+:: std.parseYaml(importstr 'alerts/alerts.yaml'),

  prometheusRules+:: {
    groups+:
      std.parseYaml(importstr 'alerts/thresholds.yaml').groups
      + std.parseYaml(importstr 'alerts/rules.yaml').groups,
  },

  grafanaDashboards+:: {
    'debt-outstanding.json': std.parseJson(importstr 'dashboards/debt-outstanding.json'),
    'debt-exporter-health.json': std.parseJson(importstr 'dashboards/debt-exporter-health.json'),
  },
}
