package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/internal/monitoringtest"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`debt_up`, []string{"debt_up"}},
		{`sum by (job, outcome) (rate(debt_api_requests_total{outcome!~"success|throttled"}[5m]))`, []string{"debt_api_requests_total"}},
		{`time() - min by (currency) (debt_unpaid_oldest_order_timestamp_seconds{job=~"debt"})`, []string{"debt_unpaid_oldest_order_timestamp_seconds"}},
		{`label_replace(sum by (currency, model) (debt_unpaid_amount), "model", "(empty)", "model", "")`, []string{"debt_unpaid_amount"}},
		{`a / ignoring (outcome) group_left () b > on (currency) group_left () c unless d offset 5m`, []string{"a", "b", "c", "d"}},
		{`up{job="debt"} == bool 0 and on(instance) x:y:z`, []string{"up", "x:y:z"}},
		{`count(count by (currency) (debt_unpaid_amount{x="{not_a_metric}"}))`, []string{"debt_unpaid_amount"}},
		{`sum(rate(not_exposed_total[1m])) by (job)`, []string{"not_exposed_total"}},
		{`topk(10, sum without (instance) (debt_unpaid_orders)) * 1e3 + vector(10)`, []string{"debt_unpaid_orders"}},
		{`vector(10)`, []string{}},
	} {
		assert.Equal(t, tc.want, monitoringtest.MetricNames(tc.expr), tc.expr)
	}
}

func TestSubstitute(t *testing.T) {
	vals := monitoringtest.DefaultValues("debt")
	got, err := monitoringtest.Substitute(`rate(x{job=~"$job", instance=~"${instance}", region=~"[[region]]", currency=~"${currency:regex}"}[$__rate_interval])`, vals)
	require.NoError(t, err)
	assert.Equal(t, `rate(x{job=~"debt", instance=~".*", region=~".*", currency=~".*"}[1m])`, got)

	_, err = monitoringtest.Substitute(`x{job=~"$jobb"}`, vals)
	assert.ErrorContains(t, err, "jobb")
}

func TestSelections(t *testing.T) {
	names := []string{"up", "debt_up", "debt_unpaid_amount"}
	got := monitoringtest.Selections(`sum by (up) (debt_up{a="}", b=~"debt_up"}) / up > on (job) x:debt_up:sum + label_values(debt_unpaid_amount{c="1"}[5m], job)`, names)
	assert.Equal(t, []monitoringtest.Selection{
		{Name: "debt_up", Matchers: `a="}", b=~"debt_up"`},
		{Name: "up"},
		{Name: "debt_unpaid_amount", Matchers: `c="1"`},
	}, got)
}
