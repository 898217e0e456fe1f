package pacing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The vendors' documented limits, the defaults of the vendors Handoff calls:
//   - Kore.ai: 60 calls a minute per account;
//   - Bitrix24: about 2 calls a second per portal;
//   - LivePerson: no documented rate, only at least a second after a 429 (MinRetryAfter);
//     5 a second is our own, cautious choice.
//
// One at a time (burst 1): a limit counted per sliding minute is never exceeded, which a burst
// after a pause could do.
var vendorDefaults = map[string]Limit{
	"koreai":     PerMinute(60),
	"bitrix24":   PerSecond(2),
	"liveperson": PerSecond(5),
}

// FallbackLimit is the rate of a vendor with neither a default nor a configured rate.
var FallbackLimit = PerSecond(5)

// Limits is the rate of each tenant's account at each vendor: a tenant's own setting, else the
// vendor's, else FallbackLimit. The zero value holds the vendors' defaults only.
type Limits struct {
	vendors map[string]Limit
	tenants map[Key]Limit
}

// DefaultLimits are the vendors' documented limits.
func DefaultLimits() Limits { return Limits{} }

// For returns the rate of tenant's account at vendor.
func (l Limits) For(tenant, vendor string) Limit {
	if v, ok := l.tenants[Key{Tenant: tenant, Vendor: vendor}]; ok {
		return v
	}
	if v, ok := l.vendors[vendor]; ok {
		return v
	}
	if v, ok := vendorDefaults[vendor]; ok {
		return v
	}
	return FallbackLimit
}

// ParseLimits reads rate settings over the defaults: entries separated by commas, each
// [tenant/]vendor=N/unit[:burst] with unit s, m or h, e.g.
//
//	koreai=600/m, acme/bitrix24=1/s:2
//
// An entry without a tenant sets the vendor's rate for every tenant; one with a tenant, that
// tenant's own. The empty string is the defaults.
func ParseLimits(spec string) (Limits, error) {
	l := Limits{vendors: map[string]Limit{}, tenants: map[Key]Limit{}}
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rate, ok := strings.Cut(entry, "=")
		if !ok {
			return Limits{}, fmt.Errorf("rate %q: want [tenant/]vendor=N/s, N/m or N/h", entry)
		}
		limit, err := parseRate(strings.TrimSpace(rate))
		if err != nil {
			return Limits{}, fmt.Errorf("rate %q: %w", entry, err)
		}
		tenant, vendor, scoped := strings.Cut(strings.TrimSpace(name), "/")
		if !scoped {
			vendor, tenant = tenant, ""
		}
		if vendor == "" || (scoped && tenant == "") {
			return Limits{}, fmt.Errorf("rate %q: a vendor (and, before a slash, a tenant) is required", entry)
		}
		if scoped {
			l.tenants[Key{Tenant: tenant, Vendor: vendor}] = limit
		} else {
			l.vendors[vendor] = limit
		}
	}
	return l, nil
}

// parseRate reads N/unit[:burst].
func parseRate(s string) (Limit, error) {
	rate, burstText, hasBurst := strings.Cut(s, ":")
	count, unit, ok := strings.Cut(rate, "/")
	if !ok {
		return Limit{}, fmt.Errorf("want N/s, N/m or N/h")
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return Limit{}, fmt.Errorf("the count must be a whole number of at least 1")
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if per == 0 {
		return Limit{}, fmt.Errorf("the unit must be s, m or h")
	}
	if per/time.Duration(n) < time.Millisecond {
		return Limit{}, fmt.Errorf("at most 1000 a second")
	}
	limit := Limit{Every: Interval(per, n), Burst: 1}
	if hasBurst {
		b, err := strconv.Atoi(burstText)
		if err != nil || b < 1 || b > 1000 {
			return Limit{}, fmt.Errorf("the burst must be a whole number from 1 to 1000")
		}
		limit.Burst = b
	}
	return limit, nil
}

// String lists the settings, for the start-up log.
func (l Limits) String() string {
	var out []string
	for v, lim := range l.vendors {
		out = append(out, v+"="+lim.String())
	}
	for k, lim := range l.tenants {
		out = append(out, k.Tenant+"/"+k.Vendor+"="+lim.String())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// String is the limit as ParseLimits reads it when it is a whole number of calls a second,
// minute or hour, and "1/<duration>" otherwise (for logs only).
func (l Limit) String() string {
	s := "1/" + l.Every.String()
	for _, u := range []struct {
		per  time.Duration
		name string
	}{{time.Second, "s"}, {time.Minute, "m"}, {time.Hour, "h"}} {
		if l.Every > 0 && u.per%l.Every == 0 {
			s = fmt.Sprintf("%d/%s", u.per/l.Every, u.name)
			break
		}
	}
	if l.Burst > 1 {
		s += ":" + strconv.Itoa(l.Burst)
	}
	return s
}
