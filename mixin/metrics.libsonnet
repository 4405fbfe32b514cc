// The raw series the rules and dashboards select, which take the
// selectors of _config: the exporter's metrics (README.md's table) and the ones
// Prometheus adds per target. e2e/mixin_test.go keeps this list equal to
// internal/monitoringtest's. Recorded series (job_instance_currency:...,
// debt:threshold_...) are computed from selected series and take none.
{
  exporter: [
    'debt_unpaid_amount',
    'debt_unpaid_orders',
    'debt_unpaid_oldest_order_timestamp_seconds',
    'debt_unpaid_amount_by_age',
    'debt_unpaid_orders_by_age',
    'debt_up',
    'debt_window_seconds',
    'debt_sweep_duration_seconds',
    'debt_last_success_timestamp_seconds',
    'debt_api_requests_total',
    'debt_sweep_requests',
    'debt_sweep_pages',
    'debt_sweep_slices',
    'debt_sweep_dense_seconds_total',
    'debt_api_concurrency',
    'debt_api_rate_limit_requests_per_second',
    'debt_invalid_orders',
    'debt_exporter_build_info',
  ],
  prometheus: ['up', 'scrape_duration_seconds'],
}
