-- Scores are kept in hundredths of a point from now on: partial credit gives fractions, and
-- whole numbers of hundredths keep sums, ordering and rounding exact.
UPDATE submissions SET score = score * 100, max_score = max_score * 100;
