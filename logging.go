package main

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// logger is the exporter's one log stream, seen three ways: go-kit for our
// own code, slog for exporter-toolkit, and a standard *log.Logger for
// net/http's server errors. Every line, from any of them, has the same keys
// in the same order: level, ts, caller, msg, then the rest.
type logger struct {
	kit  log.Logger
	slog *slog.Logger
	std  *stdlog.Logger
}

func newLogger(w io.Writer, lvl, format string) logger {
	sw := log.NewSyncWriter(w)
	var out log.Logger = log.NewLogfmtLogger(sw)
	if format == "json" {
		out = log.NewJSONLogger(sw)
	}
	out = plainValues(out)
	out = level.NewFilter(out, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	h := &kitHandler{out: out, level: slogLevels[lvl]}
	return logger{
		kit:  log.With(out, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller),
		slog: slog.New(h),
		std:  slog.NewLogLogger(h, slog.LevelError),
	}
}

var slogLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// plainValues renders the values logfmt cannot encode (slices, maps,
// structs: promhttp's error log passes its Println arguments as one []any)
// as text, the same text in both formats, instead of "unsupported value
// type".
func plainValues(next log.Logger) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		for i := 1; i < len(keyvals); i += 2 {
			keyvals[i] = plainValue(keyvals[i])
		}
		return next.Log(keyvals...)
	})
}

func plainValue(v any) any {
	switch x := v.(type) {
	case string:
		return escapeBidi(x)
	case error:
		if s := x.Error(); hasBidi(s) {
			return escapeBidi(s)
		}
		return v
	case nil, bool, int, int64, int32, uint, uint64, uint32, float64, float32, time.Time, time.Duration, level.Value:
		return v
	case []any:
		return escapeBidi(strings.TrimSuffix(fmt.Sprintln(x...), "\n"))
	case fmt.Stringer, encoding.TextMarshaler, json.Marshaler:
		return v
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct, reflect.Pointer, reflect.Func, reflect.Chan:
		return fmt.Sprint(v)
	}
	return v
}

// hasBidi: logfmt and JSON write bidi controls as they are, so a server's
// text holding them would display another log line than the one written.
func hasBidi(s string) bool { return strings.IndexFunc(s, apiclient.IsBidi) >= 0 }

// escapeBidi writes the bidi controls of s as \uXXXX, the rest as it is.
func escapeBidi(s string) string {
	if !hasBidi(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if apiclient.IsBidi(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// kitHandler is an slog.Handler writing onto the go-kit stream, so that
// exporter-toolkit's lines (and net/http's, through slog.NewLogLogger) look
// like ours: "ts", not slog's "time", and our key order.
type kitHandler struct {
	out    log.Logger
	level  slog.Level
	attrs  []any // from WithAttrs, rendered
	prefix string
}

func (h *kitHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *kitHandler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	kv := make([]any, 0, 8+len(h.attrs)+2*r.NumAttrs())
	kv = append(kv, level.Key(), kitLevel(r.Level), "ts", t.UTC(), "caller", caller(r.PC), "msg", r.Message)
	kv = append(kv, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = appendAttr(kv, h.prefix, a)
		return true
	})
	return h.out.Log(kv...)
}

func (h *kitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]any(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *kitHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

func appendAttr(kv []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			kv = appendAttr(kv, p, g)
		}
		return kv
	}
	if a.Key == "" {
		return kv
	}
	return append(kv, prefix+a.Key, v.Any())
}

func kitLevel(l slog.Level) level.Value {
	switch {
	case l >= slog.LevelError:
		return level.ErrorValue()
	case l >= slog.LevelWarn:
		return level.WarnValue()
	case l >= slog.LevelInfo:
		return level.InfoValue()
	}
	return level.DebugValue()
}

// caller renders a program counter as go-kit's DefaultCaller does:
// file.go:line.
func caller(pc uintptr) string {
	if pc == 0 {
		return "unknown"
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
}
