"""The local stand-in for AWS Glue's crawler (moto keeps the catalog but runs no crawl).

``crawler`` runs a crawl with the deployed crawler's definition; ``folders`` reads the partition layout
under a target, ``schema`` infers column types from sampled objects, ``tables`` builds the TableInputs,
``result`` is what a crawl reports.
"""

from local_aws.glue.crawler import LocalCrawler
from local_aws.glue.result import CrawlError, CrawlResult

__all__ = ["CrawlError", "CrawlResult", "LocalCrawler"]
