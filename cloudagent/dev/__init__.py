"""What developers and operators on one machine use: local cluster, demo, image build, launcher."""
