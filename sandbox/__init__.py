"""The local AWS sandbox: a moto server and an IAM Access Analyzer stand-in, both on 127.0.0.1.

Nothing here is ever packaged into the Lambda zip. It exists so that the unit, integration and demo code can
drive the real boto3 clients end to end without an AWS account and without any traffic leaving the machine.

- `sandbox.moto_server`: start/stop/reset a moto server, switch its IAM authorization on and off, and build
  boto3 sessions whose clients all point at it.
- `sandbox.access_analyzer`: a test double of IAM Access Analyzer (moto has none) that speaks the real
  REST-JSON protocol and computes role trust findings from the trust policies stored in moto.
"""
