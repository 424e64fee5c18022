"""The Elastic Load Balancing v2 API (query protocol, XML): handlers, wire views, attributes, errors."""
