"""The model's implementation of each packaged PowerShell script, one module per area."""
