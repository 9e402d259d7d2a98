# "27 Nov 2026, 08:30": unambiguous on both sides of the Atlantic, and with no "a.m." whose
# period doubles up at the end of a sentence.
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
