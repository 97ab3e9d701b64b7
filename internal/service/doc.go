// Package service implements the fibergate.contactdetails.v1.ContactDetailsService gRPC handlers.
//
// Handlers receive requests that the protovalidate interceptor already checked against the
// rules in the contract, translate them to the upstream Fiber client's types, and translate
// answers back. They return domain errors, never statuses: apierr's sentinels and those of
// the packages they call, wrapped with apierr.InField or apierr.ForTask where the caller's
// input is worth echoing. apierr's error interceptors, installed by internal/server, turn them
// into gRPC statuses once.
package service
