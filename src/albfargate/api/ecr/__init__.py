"""Amazon ECR (JSON 1.1, ``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>``): repositories
kept by the endpoint, images in a real local registry (``backing/registry.py``)."""
