"""``make bench``: measured ratios for seeding, post-labeling, the report and the Lambda package."""
