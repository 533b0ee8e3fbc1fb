/// Seeds for the choice stream (written by `FUZZ_SEEDS_DIR=DIR FuzzMatrix -runs=0`), one per
/// path that a random start would take long to find. Each is the prefix of choices that selects
/// the path; the rest reads as zeros, that is as valid values. The layout is Generator's and
/// runInput's reading order: mode, Welcome policy, rounds, then per document: next_batch byte,
/// to-device count (Welcome choice, mutation count each), room count, then per room: room pick,
/// shape, [pages], event count, and per event: payload choice, its arguments, mutation count.
let seeds: [(String, [UInt8])] = [
    ("application-r1", []),
    ("welcome-r3-then-message", [0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
    ("welcome-refused", [0, 7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
    ("commit-then-message", [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0]),
    ("proposal-commit-message", [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 2, 0, 0, 0, 0, 0]),
    ("remove-the-client", [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0]),
    ("own-commit-confirmed-and-flushed", [0, 0, 0, 0, 0, 0, 1, 0, 0, 4, 0, 0, 0, 3, 0]),
    ("competing-commit-then-repropose", [0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 3, 0]),
    ("limited-timeline-backfill", [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
    ("media-ciphertext", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 8, 0, 0]),
    ("media-welcome", [0, 0, 0, 0, 1, 0, 1, 4, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
    ("commit-epoch-beyond-int", [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 9, 6]),
    ("two-rounds-replayed", [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]),
    ("spliced", [12]),
    ("raw", [15, 0] + Array(#"{"next_batch":"x","rooms":{"join":{"!one:fuzz":{"timeline":{"limited":true,"prev_batch":"p","events":[{"event_id":"$1","type":"m.room.encrypted","content":{"ciphertext":"AAAA"}}]}}}}}"#.utf8)),
]
