// Package vendorkit is the mechanics every vendor adapter has, written once: the error table and
// its classifier, the per-tenant token or session cache, and the cleaning of vendor codes. The
// adapters keep only their vendor's facts (the rows, the key of a cache entry, what a code may
// hold); the loop that re-reads refused credentials is vendors.WithCredentials.
package vendorkit
