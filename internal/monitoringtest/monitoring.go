// Package monitoringtest reads the shipped Grafana dashboards for the tests
// in e2e/: their panels, variables and PromQL, the metric names a query
// uses, and the metrics the exporter exposes.
package monitoringtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ExporterMetrics are the metric names of debt_exporter (README.md's table)
// that the rules and dashboards may select.
var ExporterMetrics = []string{
	"debt_unpaid_amount",
	"debt_unpaid_orders",
	"debt_unpaid_oldest_order_timestamp_seconds",
	"debt_unpaid_amount_by_age",
	"debt_unpaid_orders_by_age",
	"debt_up",
	"debt_window_seconds",
	"debt_sweep_duration_seconds",
	"debt_last_success_timestamp_seconds",
	"debt_api_requests_total",
	"debt_sweep_requests",
	"debt_sweep_pages",
	"debt_sweep_slices",
	"debt_sweep_dense_seconds_total",
	"debt_api_concurrency",
	"debt_api_rate_limit_requests_per_second",
	"debt_invalid_orders",
	"debt_exporter_build_info",
}

// PrometheusMetrics are the series Prometheus itself adds for every target,
// which the rules and dashboards may use.
var PrometheusMetrics = []string{"up", "scrape_duration_seconds"}

// Dashboard is one dashboard file, decoded.
type Dashboard struct {
	File string
	JSON map[string]any
}

// LoadDashboards reads every *.json file in dir.
func LoadDashboards(dir string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", dir)
	}
	sort.Strings(files)
	var out []Dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Dashboard{File: filepath.Base(f), JSON: m})
	}
	return out, nil
}

// Panels returns every panel of the dashboard, rows included, with the
// panels nested in collapsed rows.
func (d Dashboard) Panels() []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		list, _ := v.([]any)
		for _, p := range list {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, pm)
			walk(pm["panels"])
		}
	}
	walk(d.JSON["panels"])
	return out
}

// Query is one PromQL expression of a dashboard panel.
type Query struct {
	Dashboard string
	Panel     string
	RefID     string
	Expr      string
	Instant   bool
}

func (q Query) String() string {
	return fmt.Sprintf("%s / %q / %s", q.Dashboard, q.Panel, q.RefID)
}

// Queries returns the PromQL of every panel target.
func (d Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.Panels() {
		targets, _ := p["targets"].([]any)
		for _, t := range targets {
			tm, _ := t.(map[string]any)
			expr, _ := tm["expr"].(string)
			ref, _ := tm["refId"].(string)
			instant, _ := tm["instant"].(bool)
			title, _ := p["title"].(string)
			out = append(out, Query{Dashboard: d.File, Panel: title, RefID: ref, Expr: expr, Instant: instant})
		}
	}
	return out
}

// Variables returns the dashboard's template variables.
func (d Dashboard) Variables() []map[string]any {
	tmpl, _ := d.JSON["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	var out []map[string]any
	for _, v := range list {
		if vm, ok := v.(map[string]any); ok {
			out = append(out, vm)
		}
	}
	return out
}

// VariableQuery is a query variable of the form label_values(selector, label).
type VariableQuery struct {
	Name     string
	Selector string
	Label    string
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// VariableQueries returns the label_values queries of the query variables,
// and an error for a query variable written any other way.
func (d Dashboard) VariableQueries() ([]VariableQuery, error) {
	var out []VariableQuery
	for _, v := range d.Variables() {
		if v["type"] != "query" {
			continue
		}
		name, _ := v["name"].(string)
		q, _ := v["definition"].(string)
		if qm, ok := v["query"].(map[string]any); ok {
			if s, _ := qm["query"].(string); s != q {
				return nil, fmt.Errorf("%s: variable %s: definition %q differs from query %q", d.File, name, q, s)
			}
		}
		m := labelValuesRE.FindStringSubmatch(q)
		if m == nil {
			return nil, fmt.Errorf("%s: variable %s: query %q is not label_values(selector, label)", d.File, name, q)
		}
		out = append(out, VariableQuery{Name: name, Selector: m[1], Label: m[2]})
	}
	return out, nil
}

var varRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-zA-Z]+)?\}|\[\[([a-zA-Z0-9_]+)\]\]|\$([a-zA-Z0-9_]+)`)

// Substitute replaces Grafana template variables ($name, ${name},
// ${name:format}, [[name]]) with the given values, as Grafana does before
// sending a query. A variable without a value is an error.
func Substitute(expr string, values map[string]string) (string, error) {
	var missing []string
	out := varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for template variable(s) %s in %q", strings.Join(missing, ", "), expr)
	}
	return out, nil
}

// DefaultValues substitutes the dashboards' variables as their defaults
// would: every multi-value variable at All (".*"), the built-in intervals,
// and the job given.
func DefaultValues(job string) map[string]string {
	return map[string]string{
		"job":             job,
		"instance":        ".*",
		"region":          ".*",
		"model":           ".*",
		"product_code":    ".*",
		"currency":        ".*",
		"scrape_timeout":  "10",
		"__rate_interval": "1m",
		"__interval":      "15s",
		"__range":         "1h",
		"__range_s":       "3600",
		"__interval_ms":   "15000",
	}
}

// PromQL words that are not metric names when not followed by "(":
// operators, modifiers, literals, and aggregations written with their
// grouping first ("sum by (job) (...)").
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"atan2": true, "inf": true, "nan": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true,
	"stddev": true, "stdvar": true, "count": true, "count_values": true,
	"bottomk": true, "topk": true, "quantile": true,
}

// Keywords followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// MetricNames returns the metric names an expression selects, sorted. It is
// a small lexer, not a parser: expressions must already parse (the tests
// check that with promtool).
func MetricNames(expr string) []string {
	names := map[string]bool{}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skipSpace := func(i int) int {
		for i < len(expr) && strings.IndexByte(" \t\r\n", expr[i]) >= 0 {
			i++
		}
		return i
	}
	// skipTo returns the index just past the closing byte, skipping strings.
	skipTo := func(i int, closing byte) int {
		for i < len(expr) && expr[i] != closing {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				i++
				for i < len(expr) && expr[i] != q {
					if expr[i] == '\\' && q != '`' {
						i++
					}
					i++
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '#':
			i = skipTo(i+1, '\n')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := skipSpace(j)
			switch {
			case labelListKeywords[word] && k < len(expr) && expr[k] == '(':
				j = skipTo(k+1, ')')
			case k < len(expr) && expr[k] == '(':
				// a function or an aggregation
			case promqlKeywords[strings.ToLower(word)]:
			default:
				names[word] = true
			}
			i = j
		default:
			i++
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Selection is one selection of a metric in an expression: its name and
// the text between its braces ("" when it has none).
type Selection struct {
	Name     string
	Matchers string
}

// Selections returns every selection of the metrics in names in expr, in
// order. Like MetricNames it is a lexer, for expressions that parse.
func Selections(expr string, names []string) []Selection {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	isIdent := func(c byte) bool {
		return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (c >= '0' && c <= '9')
	}
	// skipString returns the index just past the string opening at i.
	skipString := func(i int) int {
		q := expr[i]
		for i++; i < len(expr) && expr[i] != q; i++ {
			if expr[i] == '\\' && q != '`' {
				i++
			}
		}
		return i + 1
	}
	// closing returns the index of the byte that closes the bracket at i.
	closing := func(i int, c byte) int {
		for i++; i < len(expr) && expr[i] != c; {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				i = skipString(i)
				continue
			}
			i++
		}
		return i
	}
	var out []Selection
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(i)
		case c == '{':
			i = closing(i, '}') + 1
		case c == '[':
			i = closing(i, ']') + 1
		case isIdent(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && strings.IndexByte(" \t\r\n", expr[k]) >= 0 {
				k++
			}
			if labelListKeywords[word] && k < len(expr) && expr[k] == '(' {
				i = closing(k, ')') + 1
				continue
			}
			if want[word] && (k >= len(expr) || expr[k] != '(') {
				s := Selection{Name: word}
				if k < len(expr) && expr[k] == '{' {
					end := min(closing(k, '}'), len(expr))
					s.Matchers = expr[k+1 : end]
					j = end + 1
				}
				out = append(out, s)
			}
			i = j
		default:
			i++
		}
	}
	return out
}
