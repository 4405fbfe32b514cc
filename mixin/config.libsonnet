// The knobs of the debt_exporter mixin. Override them with
//   (import 'mixin.libsonnet') + { _config+:: { debtSelector: 'job="billing"' } }
// The defaults render exactly the files in alerts/ and dashboards/.
local shipped = import 'shipped.libsonnet';

{
  _config+:: {
    // Selects the exporter's scrape targets where a rule needs it: up{} in
    // DebtExporterDown and absent(up{}) in DebtExporterAbsent (up exists
    // for every target of every job). The Helm chart replaces the same
    // job="debt" with its own selector.
    debtSelector: shipped.debtSelector,

    // Selects the job of the accounts (/probe?account=NAME) in
    // DebtAccountProbeFailing: job="debt-accounts", as
    // examples/prometheus-accounts.yml scrapes them. Accounts that are
    // targets of debtSelector's job with an account label (the Helm chart)
    // are selected too; DebtExporterDown keeps to account="".
    debtAccountsSelector: shipped.debtAccountsSelector,

    // Added to every selector of a raw series (the exporter's debt_*, and
    // up and scrape_duration_seconds on the dashboards) in every rule and
    // dashboard query. Empty by default, so the shipped files work whatever
    // the scrape job is called (the chart's job is the release's name; the
    // dashboards pick the job with their $job variable). Set it when one
    // Prometheus, Thanos or Mimir sees debt exporters that are not this
    // mixin's (another cluster, another team), to a label every target of
    // this mixin's has, accounts on /probe included:
    //   debtSeriesSelector: 'cluster="eu"',
    // (self.debtSelector would leave out a separate accounts job.)
    debtSeriesSelector: '',

    // The thresholds of alerts/thresholds.yaml, by record name: a number,
    // a PromQL constant as a string ('14 * 86400'), or per currency an
    // object of them. Extend rather than replace:
    //   thresholds+: { 'debt:threshold_unpaid_amount'+: { CNY: 250000, EUR: 20000 } }
    // A new currency becomes a new series; one number for a per-currency
    // record applies to every currency; null drops a currency. The
    // dashboards draw debt:threshold_oldest_unpaid_order_age_seconds and
    // debt:threshold_last_success_age_seconds as lines: give those as a
    // number or a product of numbers.
    thresholds: shipped.thresholds,

    // `for:` and `keep_firing_for:` by alert name, as in alerts/alerts.yaml
    // (where the descriptions quote a `for:`, they follow).
    alertFor: shipped.alertFor,
    keepFiringFor: shipped.keepFiringFor,

    // Look-backs PromQL takes only as literals.
    apiRateWindow: shipped.apiRateWindow,  // DebtAPIErrors, DebtAPIThrottled
    growthWindow: shipped.growthWindow,  // DebtUnpaidAmountGrowingFast
    // DebtUnpaidAmountForecastHigh, the recorded rate of change
    // (job_instance_currency:debt_unpaid_amount:deriv) and the forecast
    // panel. The horizon is the threshold
    // debt:threshold_forecast_horizon_seconds.
    forecastLookback: shipped.forecastLookback,

    // The age buckets DebtUnpaidAmountOld sums (a regex on the age label):
    // those whose lower bound is 7 days or more, in any spelling of
    // --metrics.age-buckets (7d, 1w, 168h, 7d12h, ...).
    oldDebtAges: shipped.oldDebtAges,

    // Alerts link to <runbookURLPrefix><alert name in lower case>.
    runbookURLPrefix: shipped.runbookURLPrefix,

    // Dashboards: titles are <prefix>Outstanding and <prefix>Exporter
    // health, uids and grafanaDashboards keys <uid prefix>outstanding and
    // <uid prefix>exporter-health. The dashboards link to those with
    // dashboardLinkTags.
    dashboardTitlePrefix: shipped.dashboardTitlePrefix,
    dashboardUidPrefix: shipped.dashboardUidPrefix,
    dashboardTags: ['debt', 'debt_exporter'],
    dashboardLinkTags: ['debt_exporter'],
  },
}
