"""The augmentation policies' names, without albumentations: what a spec is checked against."""

POLICIES = ("none", "flips", "two_of_list", "geometric")
