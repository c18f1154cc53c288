"""The asset registry: sites, buildings, premises, customers, collectors, meters, and their history."""
