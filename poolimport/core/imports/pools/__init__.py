"""The IP pools import kind: read the pools and their used entries (snapshot), expand ranges (ranges),
and write each pool in its own transaction (writer, bulk), under the kind's interface (kind)."""
