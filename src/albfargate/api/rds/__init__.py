"""RDS databases deployed through CloudFormation: ``AWS::RDS::DBInstance``, ``AWS::RDS::DBCluster`` and
``AWS::SecretsManager::SecretTargetAttachment`` as live resources run by the engine's backing manager
(``backing/manager.py``), the same real PostgreSQL / MariaDB servers ``albfargate up`` runs."""
