"""The live store both the data plane and the control plane read and write."""
