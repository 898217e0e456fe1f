package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"handoff/core/handoff"
)

// accessPut writes a tenant's access record (docs/tenant-access.md) from a file, or from in for
// "-". A record that does not validate or holds unknown fields is refused: a misspelt
// "principal" must not silently close the tenant.
func (t *tool) accessPut(ctx context.Context, path string, in io.Reader) error {
	a, err := readAccess(path, in)
	if err != nil {
		return err
	}
	if err := t.store.PutAccess(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "access record of %s written: %d principals, %d event sources\n", a.Tenant, len(a.Principals), len(a.EventSources))
	return nil
}

// accessGet prints a tenant's access record as JSON.
func (t *tool) accessGet(ctx context.Context, tenant string) error {
	a, err := t.store.GetAccess(ctx, tenant)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(a, "", "  ")
	_, err = fmt.Fprintf(t.out, "%s\n", out)
	return err
}

// accessDelete removes a tenant's access record, which closes the tenant to every caller.
func (t *tool) accessDelete(ctx context.Context, tenant string) error {
	if err := t.store.DeleteAccess(ctx, tenant); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "access record of %s deleted: nobody may act for it\n", tenant)
	return nil
}

func readAccess(path string, in io.Reader) (handoff.Access, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(in)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return handoff.Access{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a handoff.Access
	if err := dec.Decode(&a); err != nil {
		return handoff.Access{}, fmt.Errorf("%s: not an access record: %w", path, err)
	}
	return a, nil
}
