"""Infrastructure: the CloudFormation template, deploy tooling and the local stand-in for AWS."""
