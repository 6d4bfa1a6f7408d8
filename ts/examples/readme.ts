import { BookCategory, createRecommendationsClient } from "bookstore-recommendations";

const client = createRecommendationsClient("http://localhost:50051");
const reply = await client.recommend({ userId: 1, category: BookCategory.MYSTERY, maxResults: 3 });
for (const book of reply.recommendations) console.log(book.id, book.title);
