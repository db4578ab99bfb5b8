"""Qt forms of the review process."""
