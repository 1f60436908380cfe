"""BulkQA Lambda code: the launch (seed), pre-labeling and post-labeling functions.

Only the standard library and boto3 are imported here, because this folder *is* the Lambda
deployment package: the Lambda runtime ships boto3, so the archive stays a few kilobytes.
"""
