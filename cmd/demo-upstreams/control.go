package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/demo"
)

// controlHandler serves the control listener: the call counters and the fault
// switches of every instance (see the package comment). base is the fault every
// instance has without one injected (-delay).
func controlHandler(c *demo.Cluster, base time.Duration) http.Handler {
	mux := http.NewServeMux()
	registerStats(mux, c)
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		type instance struct {
			Service  string    `json:"service"`
			Instance int       `json:"instance"`
			URL      string    `json:"url"`
			Fault    faultJSON `json:"fault"`
		}
		var out []instance
		for _, svc := range demo.Services {
			for i, in := range c.Instances(svc) {
				out = append(out, instance{string(svc), i + 1, in.URL(), toJSON(in.Fault())})
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	set := func(w http.ResponseWriter, r *http.Request, f demo.Fault) {
		ins, err := instancesOf(c, r.PathValue("service"), r.PathValue("instance"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		for _, in := range ins {
			in.SetFault(f)
		}
		writeJSON(w, http.StatusOK, map[string]any{"instances": len(ins), "fault": toJSON(f)})
	}
	mux.HandleFunc("PUT /faults/{service}/{instance}", func(w http.ResponseWriter, r *http.Request) {
		var fj faultJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fj); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a fault: " + err.Error()})
			return
		}
		f, err := fj.fault(base)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		set(w, r, f)
	})
	mux.HandleFunc("DELETE /faults/{service}/{instance}", func(w http.ResponseWriter, r *http.Request) {
		set(w, r, demo.Fault{Delay: base})
	})
	return mux
}

// faultJSON is a fault as the control listener reads and shows it.
type faultJSON struct {
	Status     int    `json:"status,omitempty"`
	Delay      string `json:"delay,omitempty"`
	Hang       bool   `json:"hang,omitempty"`
	FailHealth bool   `json:"fail_health,omitempty"`
}

// fault is the injected fault: what fj asks for, with the base delay when it
// gives none.
func (fj faultJSON) fault(base time.Duration) (demo.Fault, error) {
	f := demo.Fault{Status: fj.Status, Hang: fj.Hang, FailHealth: fj.FailHealth, Delay: base}
	if fj.Status != 0 && (fj.Status < 100 || fj.Status > 599) {
		return f, fmt.Errorf("status %d is not an HTTP status", fj.Status)
	}
	if fj.Delay != "" {
		d, err := time.ParseDuration(fj.Delay)
		if err != nil || d < 0 {
			return f, fmt.Errorf("delay %q is not a duration such as 200ms", fj.Delay)
		}
		f.Delay = d
	}
	return f, nil
}

func toJSON(f demo.Fault) faultJSON {
	fj := faultJSON{Status: f.Status, Hang: f.Hang, FailHealth: f.FailHealth}
	if f.Delay > 0 {
		fj.Delay = f.Delay.String()
	}
	return fj
}

// instancesOf returns the instances a path names: a service, and 1, 2, ... or all.
func instancesOf(c *demo.Cluster, service, instance string) ([]*demo.Instance, error) {
	ins := c.Instances(demo.Service(service))
	if len(ins) == 0 {
		return nil, fmt.Errorf("no instance of service %q runs here (services: users, orders, catalog, reviews)", service)
	}
	if instance == "all" {
		return ins, nil
	}
	n, err := strconv.Atoi(instance)
	if err != nil || n < 1 || n > len(ins) {
		return nil, fmt.Errorf("%s has instances 1 to %d (or all), not %q", service, len(ins), instance)
	}
	return ins[n-1 : n], nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
