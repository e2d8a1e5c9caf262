"""What a trial's checkpoint folder holds, named in a module without torch: the final evaluation's
worker imports it without the training loop (Ray Train, albumentations: seconds per evaluation)."""

CHECKPOINT_FILE = "state.pt"  # the model, optimizer and loop state, as torch.save wrote them
