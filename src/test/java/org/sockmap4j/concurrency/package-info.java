/**
 * Concurrency tests (privileged): many threads on one socket map while its sockets close and
 * reopen ({@code SockHashStressTest}), errno per call under simultaneous failures
 * ({@code ErrnoPerCallTest}), and maps, programs, links and objects closed while other threads use
 * them ({@code CloseWhileInUseTest}). docs/concurrency-and-fuzzing.md records what each proves,
 * its counts, seeds and results.
 */
package org.sockmap4j.concurrency;
